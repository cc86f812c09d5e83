/**
 * @module
 * OpenID Connect over HTTPS: discovery, ID tokens (RS256, verified by jose and by Python's
 * PyJWT from the JWKS alone), /userinfo, and RP-initiated logout with its redirect rules, its
 * confirmation form and what it ends.
 */
import assert from "node:assert/strict";
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JSONWebKeySet,
  jwtVerify,
} from "jose";
import { accessTokenHash, IdTokenKeys, IdTokens } from "../src/auth/sign_in/id_tokens.ts";
import { SESSION_COOKIE } from "../src/http/cookies.ts";
import { unixNow } from "../src/clock.ts";
import * as oidc from "./helpers/oidc.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { PYJWT, tampered, verifyWithPyJwt } from "./helpers/pyjwt.ts";
import { hello, login, startTestServer, subjectOf, type TestServer } from "./helpers/server.ts";

const USERS = { alice: oidc.PASSWORD };
const REDIRECT_URI = "https://app.example/callback";
const SIGNED_OUT = "https://app.example/signed-out";

type Json = Record<string, unknown>;

async function setUp(): Promise<{ server: TestServer; app: oidc.TestClient }> {
  const server = await startTestServer({ users: USERS });
  const app = await oidc.registerClient(server, {
    clientId: "app",
    redirectUris: [REDIRECT_URI],
    postLogoutRedirectUris: [SIGNED_OUT],
    scope: "openid profile hello",
  });
  return { server, app };
}

async function getJson(server: TestServer, path: string): Promise<Json> {
  const res = await fetch(`${server.url}${path}`, { client: server.client });
  assert.equal(res.status, 200);
  return await res.json();
}

/** Signs in a fresh browser and redeems the code. */
async function signedIn(
  server: TestServer,
  client: oidc.TestClient,
  params: Record<string, string> = {},
): Promise<{ tokens: Json; browser: oidc.CookieBrowser }> {
  const { code, verifier, browser } = await oidc.authorizationCode(server, client, { params });
  const { res, body } = await oidc.redeem(server, client, code, verifier);
  assert.equal(res.status, 200, JSON.stringify(body));
  return { tokens: body, browser };
}

async function userinfo(
  server: TestServer,
  token: string | undefined,
  method = "GET",
): Promise<{ res: Response; body: Json }> {
  const res = await fetch(`${server.url}/userinfo`, {
    client: server.client,
    method,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { res, body: await res.json() };
}

/** Whether the browser is still signed in, asked with prompt=none. */
async function stillSignedIn(
  server: TestServer,
  client: oidc.TestClient,
  browser: oidc.CookieBrowser,
): Promise<boolean> {
  const url = oidc.authorizeUrl(server, client, {
    prompt: "none",
    code_challenge: (await oidc.pkce()).challenge,
  });
  return oidc.redirectedTo(await browser.get(url), client.redirectUri).has("code");
}

Deno.test("GET /.well-known/openid-configuration has every field OpenID Connect Discovery requires, and the same document as RFC 8414 metadata", async () => {
  const { server } = await setUp();
  await using _ = server;
  const body = await getJson(server, "/.well-known/openid-configuration");
  assert.equal(body.issuer, server.url);
  const endpoints = {
    authorization_endpoint: "/authorize",
    token_endpoint: "/oauth/token",
    userinfo_endpoint: "/userinfo",
    jwks_uri: "/.well-known/jwks.json",
    end_session_endpoint: "/end-session",
  };
  for (const [name, path] of Object.entries(endpoints)) {
    assert.equal(body[name], `${server.url}${path}`, name);
  }
  assert.deepEqual(body.response_types_supported, ["code"]);
  assert.deepEqual(body.subject_types_supported, ["public"]);
  assert.ok((body.id_token_signing_alg_values_supported as string[]).includes("RS256"));
  assert.deepEqual(body.code_challenge_methods_supported, ["S256"]);
  assert.equal(body.authorization_response_iss_parameter_supported, true);
  assert.ok((body.scopes_supported as string[]).includes("openid"));
  assert.ok((body.grant_types_supported as string[]).includes("authorization_code"));
  assert.equal(body.request_uri_parameter_supported, false, "its default would be true");
  for (const claim of ["sub", "auth_time", "nonce", "at_hash", "sid", "preferred_username"]) {
    assert.ok((body.claims_supported as string[]).includes(claim), claim);
  }
  assert.deepEqual(await getJson(server, "/.well-known/oauth-authorization-server"), body);
});

Deno.test("the ID token is RS256, from a key in the JWKS, with iss, sub, aud, exp, iat, auth_time, nonce, at_hash and sid", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const before = Math.floor(Date.now() / 1000);
  const { tokens } = await signedIn(server, app, { nonce: "n-0S6_WzA2Mj" });
  const idToken = String(tokens.id_token);
  const header = decodeProtectedHeader(idToken);
  assert.equal(header.alg, "RS256");
  assert.equal(header.typ, "JWT");
  const jwks = await getJson(server, "/.well-known/jwks.json") as unknown as JSONWebKeySet;
  const rsa = jwks.keys.filter((key) => key.kty === "RSA");
  assert.deepEqual(rsa.map((key) => [key.kid, key.alg, key.use]), [[header.kid, "RS256", "sig"]]);
  assert.equal(rsa[0].d, undefined, "no private members");
  const { payload } = await jwtVerify(idToken, createLocalJWKSet(jwks), {
    algorithms: ["RS256"],
    issuer: server.url,
    audience: app.clientId,
    requiredClaims: ["exp", "iat", "auth_time", "nonce", "at_hash", "sid"],
  });
  assert.equal(payload.sub, await subjectOf(server, "alice"));
  assert.equal(payload.sub, decodeJwt(String(tokens.access_token)).sub, "the access token's");
  assert.equal(payload.nonce, "n-0S6_WzA2Mj");
  assert.equal(payload.at_hash, await accessTokenHash(String(tokens.access_token)));
  assert.ok(
    (payload.auth_time as number) >= before && (payload.auth_time as number) <= payload.iat!,
  );
  assert.equal(payload.exp! - payload.iat!, server.config.accessTokenTtlSeconds);
  // Access tokens keep the service's own algorithm and audience.
  const access = decodeJwt(String(tokens.access_token));
  assert.equal(decodeProtectedHeader(String(tokens.access_token)).alg, "ES256");
  assert.equal(access.aud, server.config.audience);
});

Deno.test("an ID token is no access token: /hello and /userinfo refuse it", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { tokens } = await signedIn(server, app, { scope: "openid hello" });
  const greeted = await hello(server, `Bearer ${tokens.id_token}`);
  assert.equal(greeted.res.status, 401);
  assert.equal(greeted.body.msg, "Unknown signing key");
  assert.equal((await userinfo(server, String(tokens.id_token))).res.status, 401);
});

testNeeding(
  [PYJWT],
  "Python's PyJWT (Debian python3-jwt) verifies an ID token from the discovery document and JWKS alone",
  async () => {
    const { server, app } = await setUp();
    await using _ = server;
    const { tokens } = await signedIn(server, app);
    const check = {
      metadataPath: "/.well-known/openid-configuration",
      audience: app.clientId,
      algorithmsField: "id_token_signing_alg_values_supported",
    } as const;
    const good = await verifyWithPyJwt(server, String(tokens.id_token), check);
    assert.equal(good.stderr, "");
    assert.equal(good.stdout, `${await subjectOf(server, "alice")}\n`);
    assert.equal(good.code, 0);
    const bad = await verifyWithPyJwt(server, tampered(String(tokens.id_token)), check);
    assert.equal(bad.stdout, "InvalidSignatureError\n", bad.stderr);
    assert.equal(bad.code, 1);
    const other = await verifyWithPyJwt(server, String(tokens.id_token), {
      ...check,
      audience: "another-client",
    });
    assert.equal(other.stdout, "InvalidAudienceError\n", other.stderr);
  },
);

Deno.test("/userinfo answers GET and POST with a Bearer token: sub, and preferred_username with profile", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { tokens } = await signedIn(server, app);
  for (const method of ["GET", "POST"]) {
    const { res, body } = await userinfo(server, String(tokens.access_token), method);
    assert.equal(res.status, 200, method);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.deepEqual(body, { sub: await subjectOf(server, "alice"), preferred_username: "alice" });
  }
  const { tokens: narrow } = await signedIn(server, app, { scope: "openid" });
  assert.deepEqual((await userinfo(server, String(narrow.access_token))).body, {
    sub: await subjectOf(server, "alice"),
  });
});

Deno.test("/userinfo refuses a missing, invalid or non-openid token and a removed user's", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const missing = await userinfo(server, undefined);
  assert.equal(missing.res.status, 401);
  assert.match(missing.res.headers.get("www-authenticate")!, /^Bearer realm=/);
  const invalid = await userinfo(server, "x.y.z");
  assert.equal(invalid.res.status, 401);
  assert.equal(invalid.body.error, "invalid_token");
  const { body } = await login(server, "alice", oidc.PASSWORD);
  const noOpenid = await userinfo(server, String(body.access_token));
  assert.equal(noOpenid.res.status, 403);
  assert.match(
    noOpenid.res.headers.get("www-authenticate")!,
    /error="insufficient_scope", .*scope="openid"/,
  );
  const { tokens } = await signedIn(server, app);
  await server.store.removeUser("alice", unixNow());
  const removed = await userinfo(server, String(tokens.access_token));
  assert.equal(removed.res.status, 401);
  assert.equal(removed.body.error, "invalid_token");
});

Deno.test("end-session with id_token_hint ends the browser session and its refresh-token families, then redirects with state", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const second = await oidc.registerClient(server, {
    clientId: "second",
    redirectUris: ["https://second.example/cb"],
  });
  const { tokens, browser } = await signedIn(server, app);
  const sso = await oidc.authorizationCode(server, second, { browser });
  const secondTokens = (await oidc.redeem(server, second, sso.code, sso.verifier)).body;
  const elsewhere = await signedIn(server, app);

  const url = new URL(`${server.url}/end-session`);
  url.searchParams.set("id_token_hint", String(tokens.id_token));
  url.searchParams.set("post_logout_redirect_uri", SIGNED_OUT);
  url.searchParams.set("state", "bye-1");
  const res = await browser.get(url.href);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), `${SIGNED_OUT}?state=bye-1`);
  assert.equal(browser.cookie, undefined, "the cookie is deleted");
  assert.match(res.headers.getSetCookie()[0], /Max-Age=0; Secure; HttpOnly; SameSite=Lax/);

  for (const issued of [tokens, secondTokens]) {
    assert.equal((await hello(server, `Bearer ${issued.access_token}`)).res.status, 401);
    const refreshed = await oidc.tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: String(issued.refresh_token),
      client_id: decodeJwt(String(issued.access_token)).client_id as string,
    });
    assert.equal(refreshed.body.error, "invalid_grant");
  }
  assert.equal(await stillSignedIn(server, app, elsewhere.browser), true, "other browsers stay");
  // Logging out again is harmless: the browser is no longer signed in, and is told so.
  const replayed = await browser.get(url.href);
  const again = await replayed.text();
  assert.equal(replayed.status, 200, "not signed in: a page, not a redirect");
  assert.equal(replayed.headers.get("location"), null);
  assert.match(again, /not signed in/);
  assert.match(again, new RegExp(`href="${SIGNED_OUT}\\?state=bye-1"`), "a link back");
});

Deno.test("end-session never redirects to an unregistered post_logout_redirect_uri, and checks the hint", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { tokens, browser } = await signedIn(server, app);
  const endSession = (params: Record<string, string>) => {
    const url = new URL(`${server.url}/end-session`);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    return browser.get(url.href);
  };
  const hint = String(tokens.id_token);
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "unregistered URI",
      { id_token_hint: hint, post_logout_redirect_uri: "https://evil.example/" },
      /not registered/,
    ],
    [
      "altered URI",
      { id_token_hint: hint, post_logout_redirect_uri: `${SIGNED_OUT}/x` },
      /not registered/,
    ],
    ["URI without a client", { post_logout_redirect_uri: SIGNED_OUT }, /not registered/],
    ["a redirect URI is not a post-logout URI", {
      id_token_hint: hint,
      post_logout_redirect_uri: REDIRECT_URI,
    }, /not registered/],
    ["forged hint", { id_token_hint: `${hint.slice(0, -4)}AAAA` }, /not an ID token of ours/],
    [
      "access token as hint",
      { id_token_hint: String(tokens.access_token) },
      /not an ID token of ours/,
    ],
    ["garbage hint", { id_token_hint: "garbage" }, /not an ID token of ours/],
    ["hint of another client", { id_token_hint: hint, client_id: "other" }, /another client/],
    [
      "unknown client",
      { client_id: "nobody", post_logout_redirect_uri: SIGNED_OUT },
      /Unknown client/,
    ],
  ];
  for (const [what, params, message] of cases) {
    const res = await endSession(params);
    const html = await res.text();
    assert.equal(res.status, 400, `${what}: ${html}`);
    assert.equal(res.headers.get("location"), null, what);
    assert.match(html, message, what);
  }
  assert.equal(await stillSignedIn(server, app, browser), true, "nothing was ended");
});

Deno.test("end-session with an id_token_hint expired beyond the leeway asks the browser it names before signing out", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { tokens, browser } = await signedIn(server, app);
  const claims = decodeJwt(String(tokens.id_token));
  const expiredIssuer = new IdTokens(await IdTokenKeys.open(server.store), {
    issuer: server.url,
    ttlSeconds: -60,
    leewaySeconds: 0,
  });
  const expired = await expiredIssuer.issue({
    subject: "alice",
    clientId: app.clientId,
    authTime: claims.auth_time as number,
    sessionId: claims.sid as string,
    accessToken: String(tokens.access_token),
  });
  const url = new URL(`${server.url}/end-session`);
  url.searchParams.set("id_token_hint", expired);
  url.searchParams.set("post_logout_redirect_uri", SIGNED_OUT);
  const res = await browser.get(url.href);
  const html = await res.text();
  assert.equal(res.status, 200, "a stale hint vouches for nothing: the user is asked");
  assert.match(html, /<h1>Sign out\?<\/h1>/);
  assert.equal(await stillSignedIn(server, app, browser), true);
  // The stale hint still named the client, whose post-logout URI the confirmation goes to.
  const confirmed = await browser.post("/sign-out", { ...oidc.formFields(html) });
  assert.equal(confirmed.status, 303);
  assert.equal(confirmed.headers.get("location"), SIGNED_OUT);
  assert.equal(await stillSignedIn(server, app, browser), false);
});

Deno.test("end-session without id_token_hint asks first; the question's form needs its CSRF token", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { tokens, browser } = await signedIn(server, app);
  // A cross-site link to the logout endpoint alone logs nobody out (logout CSRF).
  const question = await browser.get(
    `${server.url}/end-session?client_id=app&post_logout_redirect_uri=${
      encodeURIComponent(SIGNED_OUT)
    }&state=s2`,
  );
  const html = await question.text();
  assert.equal(question.status, 200);
  assert.match(html, /<h1>Sign out\?<\/h1>/);
  assert.match(
    question.headers.get("content-security-policy")!,
    /form-action 'self' https:\/\/app\.example;/,
  );
  assert.equal(await stillSignedIn(server, app, browser), true);
  const fields = oidc.formFields(html);
  const refused = await browser.post("/sign-out", { request: fields.request });
  assert.equal(refused.status, 403);
  await refused.body?.cancel();
  const stranger = new oidc.CookieBrowser(server);
  stranger.cookie = "S".repeat(43);
  const foreign = await stranger.post("/sign-out", { ...fields });
  assert.equal(foreign.status, 403);
  await foreign.body?.cancel();
  assert.equal(await stillSignedIn(server, app, browser), true);

  const confirmed = await browser.post("/sign-out", { ...fields });
  assert.equal(confirmed.status, 303);
  assert.equal(confirmed.headers.get("location"), `${SIGNED_OUT}?state=s2`);
  assert.equal(browser.cookie, undefined);
  assert.equal((await hello(server, `Bearer ${tokens.access_token}`)).res.status, 401);

  // Signed out already: a sign-out without a session just says so, and offers the way back
  // to a client that named its registered URI as a link, never as a redirect.
  const done = await new oidc.CookieBrowser(server).get(`${server.url}/end-session`);
  assert.equal(done.status, 200);
  const doneHtml = await done.text();
  assert.match(doneHtml, /not signed in/);
  assert.doesNotMatch(doneHtml, /<a /);
  const back = await browser.get(
    `${server.url}/end-session?client_id=app&post_logout_redirect_uri=${
      encodeURIComponent(SIGNED_OUT)
    }&state=s3`,
  );
  assert.equal(back.status, 200);
  assert.equal(back.headers.get("location"), null);
  assert.match(await back.text(), new RegExp(`<a href="${SIGNED_OUT}\\?state=s3">`));
});

Deno.test("many end-session requests from the browser a hint names, at once, all succeed and end its session once", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  for (let round = 0; round < 3; round++) {
    const { tokens, browser } = await signedIn(server, app);
    const url = `${server.url}/end-session?id_token_hint=${tokens.id_token}`;
    const cookie = `${SESSION_COOKIE}=${browser.cookie}`;
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await fetch(url, {
          client: server.client,
          redirect: "manual",
          headers: { cookie },
        });
        await res.body?.cancel();
        return res.status;
      }),
    );
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    assert.equal(await stillSignedIn(server, app, browser), false);
    assert.equal((await hello(server, `Bearer ${tokens.access_token}`)).res.status, 401);
    const signOuts = server.logs.filter((line) =>
      line.msg === "audit" && line.event === "browser_signed_out"
    );
    assert.equal(signOuts.length, round + 1, "each session ends once");
  }
});
