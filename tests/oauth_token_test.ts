/**
 * @module
 * POST /oauth/token's password and refresh_token grants over real HTTPS: RFC 6749 answers and error
 * codes, RFC 9068 access-token claims, rotation of refresh tokens with a session ended when another
 * client presents one, confidential clients' secrets by Basic and by form, throttling shared with
 * /login, and a refresh that may narrow scopes but never widen them.
 */
import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import {
  assertTokenResponse,
  hello,
  login,
  startTestServer,
  subjectOf,
  type TestServer,
} from "./helpers/server.ts";
import { registerClient } from "./helpers/oidc.ts";

const USERS = { user1: "password1" };
const CLIENT_SECRET = "s3cret-of-the-service-client-0123456789";
const CONFIDENTIAL = { OAUTH_CLIENTS: `svc:${CLIENT_SECRET}` };

type Json = Record<string, unknown>;

/** POSTs a form to /oauth/token; `params` as pairs so that a parameter can be repeated. */
async function token(
  server: TestServer,
  params: Record<string, string> | string[][],
  headers: Record<string, string> = {},
): Promise<{ res: Response; body: Json }> {
  const res = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    client: server.client,
    headers,
    body: new URLSearchParams(params),
  });
  return { res, body: await res.json() };
}

function passwordGrant(extra: Record<string, string> = {}): Record<string, string> {
  return { grant_type: "password", username: "user1", password: "password1", ...extra };
}

function refreshGrant(
  refreshToken: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { grant_type: "refresh_token", refresh_token: refreshToken, ...extra };
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and Base64-encoded. */
function basic(id: string, secret: string): Record<string, string> {
  const encode = (text: string) => new URLSearchParams({ v: text }).toString().slice(2);
  const credentials = new TextEncoder().encode(`${encode(id)}:${encode(secret)}`);
  return { authorization: `Basic ${credentials.toBase64()}` };
}

/** Asserts an RFC 6749 §5.2 error answer: status, `error`, `error_description`, no caching. */
function assertOAuthError(res: Response, body: Json, error: string, status = 400): void {
  assert.equal(res.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body).sort(), ["error", "error_description"]);
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, "string");
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("pragma"), "no-cache");
}

function assertInvalidClient(res: Response, body: Json): void {
  assertOAuthError(res, body, "invalid_client", 401);
  assert.match(res.headers.get("www-authenticate")!, /^Basic /);
}

Deno.test("POST /oauth/token password grant answers 200 with the RFC 6749 §5.1 fields and no-store, no-cache", async () => {
  await using server = await startTestServer({ users: USERS });
  const { res, body } = await token(server, passwordGrant());
  assertTokenResponse(res, body, { deviceToken: true });
  assert.equal(res.headers.get("pragma"), "no-cache");
  const greeting = await hello(server, `Bearer ${body.access_token}`);
  assert.equal(greeting.res.status, 200);
});

Deno.test("access tokens follow RFC 9068: typ at+jwt; iss, exp, aud, sub, client_id, iat, jti and scope claims", async () => {
  await using server = await startTestServer({ users: USERS });
  const oauth = await token(server, passwordGrant({ client_id: "my-cli" }));
  assert.equal(oauth.res.status, 200, JSON.stringify(oauth.body));
  const viaLogin = await login(server, "user1", "password1");
  assert.equal(viaLogin.res.status, 200);

  const jtis = new Set<unknown>();
  for (
    const [access, clientId] of [[oauth.body.access_token, "my-cli"], [
      viaLogin.body.access_token,
      "auth-api",
    ]]
  ) {
    const header = decodeProtectedHeader(access as string);
    assert.equal(header.typ, "at+jwt");
    assert.equal(header.alg, "ES256");
    assert.equal(typeof header.kid, "string");
    const claims = decodeJwt(access as string);
    assert.equal(claims.iss, server.config.issuer);
    assert.equal(claims.iss, server.url);
    assert.equal(claims.aud, server.config.audience);
    assert.equal(claims.sub, await subjectOf(server, "user1"));
    assert.equal(claims.preferred_username, "user1");
    assert.equal(claims.client_id, clientId);
    assert.equal(claims.scope, "hello");
    assert.equal(typeof claims.iat, "number");
    assert.equal(claims.exp, claims.iat! + 900);
    assert.ok(Math.abs(claims.iat! - Date.now() / 1000) < 60);
    assert.match(claims.jti!, /^[0-9a-f-]{36}$/);
    jtis.add(claims.jti);
  }
  assert.equal(jtis.size, 2, "each token has its own jti");
});

Deno.test("POST /oauth/token refresh_token grant returns a new pair; the old refresh token then answers invalid_grant", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await token(server, passwordGrant({ client_id: "my-cli" }));
  const refreshToken = first.body.refresh_token as string;
  const { res, body } = await token(server, refreshGrant(refreshToken, { client_id: "my-cli" }));
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.scope, "hello");
  assert.notEqual(body.refresh_token, refreshToken);
  assert.notEqual(body.access_token, first.body.access_token);
  assert.equal(decodeJwt(body.access_token as string).client_id, "my-cli");
  assert.equal((await hello(server, `Bearer ${body.access_token}`)).res.status, 200);

  const old = await token(server, refreshGrant(refreshToken, { client_id: "my-cli" }));
  assertOAuthError(old.res, old.body, "invalid_grant");
});

Deno.test("POST /oauth/token refuses the refresh_token grant to a client registered without it, leaving its token unspent", async () => {
  await using server = await startTestServer({ users: USERS });
  await registerClient(server, {
    clientId: "password-only",
    redirectUris: [],
    grantTypes: ["password"],
  });
  await registerClient(server, {
    clientId: "renewing",
    redirectUris: [],
    grantTypes: ["password", "refresh_token"],
  });
  const first = await token(server, passwordGrant({ client_id: "password-only" }));
  assert.equal(first.res.status, 200, JSON.stringify(first.body));
  const refreshToken = first.body.refresh_token as string;
  const refused = await token(server, refreshGrant(refreshToken, { client_id: "password-only" }));
  assertOAuthError(refused.res, refused.body, "unauthorized_client");
  assert.equal(
    refused.body.error_description,
    'Client "password-only" may not use the refresh_token grant',
  );
  const elsewhere = await token(server, refreshGrant(refreshToken, { client_id: "renewing" }));
  assertOAuthError(elsewhere.res, elsewhere.body, "invalid_grant");
  assert.equal(
    elsewhere.body.error_description,
    "Refresh token was issued to another client",
    "the refused request spent nothing: the token is still known, as another client's",
  );
});

Deno.test("POST /oauth/token answers 400 with RFC 6749 §5.2 error codes for bad requests", async (t) => {
  await using server = await startTestServer({ users: USERS });
  const cases: [string, Record<string, string> | string[][], string][] = [
    ["missing grant_type", { username: "user1", password: "password1" }, "invalid_request"],
    ["unknown grant_type", passwordGrant({ grant_type: "magic" }), "unsupported_grant_type"],
    [
      "authorization_code grant from a client not registered for it",
      { grant_type: "authorization_code", code: "x" },
      "unauthorized_client",
    ],
    ["client_credentials grant from a public client", {
      grant_type: "client_credentials",
    }, "unauthorized_client"],
    ["wrong password", passwordGrant({ password: "wrong" }), "invalid_grant"],
    ["unknown user", passwordGrant({ username: "ghost" }), "invalid_grant"],
    ["missing password", { grant_type: "password", username: "user1" }, "invalid_grant"],
    ["unknown scope", passwordGrant({ scope: "admin" }), "invalid_scope"],
    ["repeated grant_type", [["grant_type", "password"], ["grant_type", "password"], [
      "username",
      "user1",
    ], ["password", "password1"]], "invalid_request"],
    ["repeated password", [["grant_type", "password"], ["username", "user1"], [
      "password",
      "password1",
    ], ["password", "password1"]], "invalid_request"],
    [
      "refresh_token grant without refresh_token",
      { grant_type: "refresh_token" },
      "invalid_request",
    ],
    [
      "garbage refresh_token",
      refreshGrant("garbage"),
      "invalid_grant",
    ],
  ];
  for (const [name, params, error] of cases) {
    await t.step(`${name} → ${error}`, async () => {
      const { res, body } = await token(server, params);
      assertOAuthError(res, body, error);
    });
  }
});

Deno.test("POST /oauth/token answers invalid_grant for a refresh token presented by another client_id, and revokes that session", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await token(server, passwordGrant({ client_id: "app-a" }));
  const refreshToken = first.body.refresh_token as string;
  const stolen = await token(server, refreshGrant(refreshToken, { client_id: "app-b" }));
  assertOAuthError(stolen.res, stolen.body, "invalid_grant");
  const omitted = await token(server, refreshGrant(refreshToken));
  assertOAuthError(omitted.res, omitted.body, "invalid_grant");
  const owner = await token(server, refreshGrant(refreshToken, { client_id: "app-a" }));
  assertOAuthError(owner.res, owner.body, "invalid_grant");
});

Deno.test("POST /oauth/token answers 401 invalid_client with WWW-Authenticate Basic for a confidential client's wrong or missing secret", async () => {
  await using server = await startTestServer({ users: USERS, env: CONFIDENTIAL });
  const wrongBasic = await token(server, passwordGrant(), basic("svc", `${CLIENT_SECRET}x`));
  assertInvalidClient(wrongBasic.res, wrongBasic.body);
  const wrongPost = await token(
    server,
    passwordGrant({ client_id: "svc", client_secret: "wrong-wrong-wrong-wrong-wrong-wrong" }),
  );
  assertInvalidClient(wrongPost.res, wrongPost.body);
  const noSecret = await token(server, passwordGrant({ client_id: "svc" }));
  assertInvalidClient(noSecret.res, noSecret.body);
  const unknownWithSecret = await token(server, passwordGrant(), basic("nobody", CLIENT_SECRET));
  assertInvalidClient(unknownWithSecret.res, unknownWithSecret.body);
});

Deno.test("POST /oauth/token accepts a confidential client's secret via HTTP Basic and via client_secret_post", async () => {
  await using server = await startTestServer({ users: USERS, env: CONFIDENTIAL });
  const viaBasic = await token(server, passwordGrant(), basic("svc", CLIENT_SECRET));
  assert.equal(viaBasic.res.status, 200, JSON.stringify(viaBasic.body));
  assert.equal(decodeJwt(viaBasic.body.access_token as string).client_id, "svc");
  const viaPost = await token(
    server,
    passwordGrant({ client_id: "svc", client_secret: CLIENT_SECRET }),
  );
  assert.equal(viaPost.res.status, 200, JSON.stringify(viaPost.body));
  const renewed = await token(
    server,
    refreshGrant(viaPost.body.refresh_token as string),
    basic("svc", CLIENT_SECRET),
  );
  assert.equal(renewed.res.status, 200, JSON.stringify(renewed.body));
});

Deno.test("POST /oauth/token answers 415 for a JSON body", async () => {
  await using server = await startTestServer({ users: USERS });
  const res = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(passwordGrant()),
  });
  const body = await res.json();
  assert.equal(res.status, 415, JSON.stringify(body));
  assert.equal(body.access_token, undefined);
});

Deno.test("POST /oauth/token is throttled with /login: after 2 failures 429 temporarily_unavailable with Retry-After", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { THROTTLE_FREE_FAILURES: "2", THROTTLE_BASE_DELAY: "30" },
  });
  for (let i = 0; i < 2; i++) {
    const { res, body } = await token(server, passwordGrant({ password: `wrong-${i}` }));
    assertOAuthError(res, body, "invalid_grant");
  }
  const { res, body } = await token(server, passwordGrant());
  assertOAuthError(res, body, "temporarily_unavailable", 429);
  const retryAfter = res.headers.get("retry-after") ?? "";
  assert.match(retryAfter, /^\d+$/);
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 30, retryAfter);

  const viaLogin = await login(server, "user1", "password1");
  assert.equal(viaLogin.res.status, 429, "the same account is throttled at /login too");
});

Deno.test('a token granted only scope=other gets 403 insufficient_scope with scope="hello" on /hello', async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { OAUTH_SCOPES: "hello other" },
  });
  const { res, body } = await token(server, passwordGrant({ scope: "other" }));
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.scope, "other");
  assert.equal(decodeJwt(body.access_token as string).scope, "other");
  const denied = await hello(server, `Bearer ${body.access_token}`);
  assert.equal(denied.res.status, 403);
  const challenge = denied.res.headers.get("www-authenticate")!;
  assert.match(challenge, /^Bearer /);
  assert.match(challenge, /error="insufficient_scope"/);
  assert.match(challenge, /scope="hello"/);

  const both = await token(server, passwordGrant());
  assert.equal(both.body.scope, "hello other", "no scope asked: the default, all supported");
  assert.equal((await hello(server, `Bearer ${both.body.access_token}`)).res.status, 200);
});

Deno.test("the refresh_token grant may narrow the scope but never widen it (invalid_scope)", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { OAUTH_SCOPES: "hello other" },
  });
  const first = await token(server, passwordGrant({ scope: "hello other" }));
  const narrowed = await token(
    server,
    refreshGrant(first.body.refresh_token as string, { scope: "hello" }),
  );
  assert.equal(narrowed.res.status, 200, JSON.stringify(narrowed.body));
  assert.equal(narrowed.body.scope, "hello");
  assert.equal(decodeJwt(narrowed.body.access_token as string).scope, "hello");

  const widened = await token(
    server,
    refreshGrant(narrowed.body.refresh_token as string, { scope: "hello other" }),
  );
  assertOAuthError(widened.res, widened.body, "invalid_scope");

  const other = await token(server, passwordGrant({ scope: "other" }));
  const escalate = await token(
    server,
    refreshGrant(other.body.refresh_token as string, { scope: "hello" }),
  );
  assertOAuthError(escalate.res, escalate.body, "invalid_scope");
});

Deno.test("a refresh refused for its scope leaves the refresh token usable", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { OAUTH_SCOPES: "hello other" },
  });
  const first = await token(server, passwordGrant({ scope: "hello" }));
  const refreshToken = first.body.refresh_token as string;
  const widened = await token(server, refreshGrant(refreshToken, { scope: "hello other" }));
  assertOAuthError(widened.res, widened.body, "invalid_scope");
  const retry = await token(server, refreshGrant(refreshToken));
  assert.equal(retry.res.status, 200, JSON.stringify(retry.body));
  assert.equal(retry.body.scope, "hello");
  assert.equal((await hello(server, `Bearer ${first.body.access_token}`)).res.status, 200);
});

/** POSTs a refresh token to /refresh (the flask_jwt_extended endpoint, without client credentials). */
async function flaskRefresh(server: TestServer, refreshToken: string) {
  const res = await fetch(`${server.url}/refresh`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  return { res, body: await res.json() as Json };
}

Deno.test("POST /refresh refuses a confidential client's refresh token, naming /oauth/token, and ends that session", async () => {
  await using server = await startTestServer({ users: USERS, env: CONFIDENTIAL });
  const granted = await token(server, passwordGrant(), basic("svc", CLIENT_SECRET));
  assert.equal(granted.res.status, 200, JSON.stringify(granted.body));
  const { res, body } = await flaskRefresh(server, granted.body.refresh_token as string);
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error, "invalid_grant");
  assert.match(body.msg as string, /client "svc".*\/oauth\/token/);
  assert.equal(body.access_token, undefined);
  // Someone without the secret presented it: the session is ended, for the owner too.
  const owner = await token(
    server,
    { grant_type: "refresh_token", refresh_token: granted.body.refresh_token as string },
    basic("svc", CLIENT_SECRET),
  );
  assertOAuthError(owner.res, owner.body, "invalid_grant");
  const probe = await hello(server, `Bearer ${granted.body.access_token}`);
  assert.equal(probe.res.status, 401);
  assert.deepEqual(probe.body, { msg: "Token has been revoked" });
});

Deno.test("POST /oauth/token refuses a confidential client's refresh token without its credentials", async () => {
  await using server = await startTestServer({ users: USERS, env: CONFIDENTIAL });
  const granted = await token(server, passwordGrant(), basic("svc", CLIENT_SECRET));
  const refreshToken = granted.body.refresh_token as string;
  const named = await token(server, {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: "svc",
  });
  assertInvalidClient(named.res, named.body);
  const wrong = await token(
    server,
    { grant_type: "refresh_token", refresh_token: refreshToken },
    basic("svc", `${CLIENT_SECRET}x`),
  );
  assertInvalidClient(wrong.res, wrong.body);
  // Neither spent nor revoked the token: nobody but the client was in the way.
  const owner = await token(
    server,
    { grant_type: "refresh_token", refresh_token: refreshToken },
    basic("svc", CLIENT_SECRET),
  );
  assert.equal(owner.res.status, 200, JSON.stringify(owner.body));
  // Without any client the caller is the default public client, another client: refused and
  // the session ends.
  const anonymous = await token(server, {
    grant_type: "refresh_token",
    refresh_token: owner.body.refresh_token as string,
  });
  assertOAuthError(anonymous.res, anonymous.body, "invalid_grant");
  const after = await token(
    server,
    { grant_type: "refresh_token", refresh_token: owner.body.refresh_token as string },
    basic("svc", CLIENT_SECRET),
  );
  assertOAuthError(after.res, after.body, "invalid_grant");
});

Deno.test("POST /refresh accepts the refresh token of a public client and keeps its client_id", async () => {
  await using server = await startTestServer({ users: USERS, env: CONFIDENTIAL });
  const granted = await token(server, passwordGrant({ client_id: "my-app" }));
  const { res, body } = await flaskRefresh(server, granted.body.refresh_token as string);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(decodeJwt(body.access_token as string).client_id, "my-app");
});

Deno.test("a refresh grants only the scopes still in OAUTH_SCOPES", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-scopes-" });
  // A fixed issuer and audience: the restarted server binds another port.
  const identity = {
    JWT_ISSUER: "https://auth.example.test",
    JWT_AUDIENCE: "https://api.example.test",
  };
  try {
    let both: string, otherOnly: string, asked: string;
    {
      await using first = await startTestServer({
        users: USERS,
        dir,
        env: { ...identity, OAUTH_SCOPES: "hello other" },
      });
      both = (await token(first, passwordGrant({ scope: "hello other" }))).body
        .refresh_token as string;
      otherOnly = (await token(first, passwordGrant({ scope: "other" }))).body
        .refresh_token as string;
      asked = (await token(first, passwordGrant({ scope: "hello other" }))).body
        .refresh_token as string;
    }
    await using second = await startTestServer({
      dir,
      env: { ...identity, OAUTH_SCOPES: "hello" },
    });
    const kept = await token(second, { grant_type: "refresh_token", refresh_token: both });
    assert.equal(kept.res.status, 200, JSON.stringify(kept.body));
    assert.equal(kept.body.scope, "hello");
    assert.equal(decodeJwt(kept.body.access_token as string).scope, "hello");
    const viaFlask = await flaskRefresh(second, kept.body.refresh_token as string);
    assert.equal(viaFlask.body.scope, "hello", "the new refresh token keeps only hello");

    const none = await token(second, { grant_type: "refresh_token", refresh_token: otherOnly });
    assertOAuthError(none.res, none.body, "invalid_scope");
    const removed = await token(second, {
      grant_type: "refresh_token",
      refresh_token: asked,
      scope: "other",
    });
    assertOAuthError(removed.res, removed.body, "invalid_scope");
    // A refused scope does not spend the token.
    const retry = await token(second, { grant_type: "refresh_token", refresh_token: asked });
    assert.equal(retry.res.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.scope, "hello");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
