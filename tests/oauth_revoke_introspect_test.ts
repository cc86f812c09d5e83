/**
 * @module
 * Token revocation (RFC 7009) and introspection (RFC 7662) over real HTTPS: revoking a refresh
 * token ends its family and the family's access tokens, an access token only itself; unknown tokens
 * answer 200; clients revoke or introspect only their own tokens unless listed in
 * OAUTH_INTROSPECTORS, and inactive tokens reveal nothing but `{active: false}`.
 */
import assert from "node:assert/strict";
import { decodeJwt, importJWK, SignJWT } from "jose";
import { unixNow } from "../src/clock.ts";
import { postForm } from "./helpers/forms.ts";
import {
  assertRevoked,
  hello,
  loginTokens,
  refresh,
  startTestServer,
  subjectOf,
  type TestServer,
} from "./helpers/server.ts";

const USERS = { user1: "password1", user2: "password2" };
const RS_SECRET = "resource-server-secret-0123456789abcdef";
const INTROSPECTOR = { OAUTH_CLIENTS: `rs:${RS_SECRET}`, OAUTH_INTROSPECTORS: "rs" };
const INACTIVE = { active: false };

type Json = Record<string, unknown>;

function basic(id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${new TextEncoder().encode(`${id}:${secret}`).toBase64()}` };
}

const RS = basic("rs", RS_SECRET);

async function revoke(server: TestServer, params: Record<string, string>): Promise<void> {
  const { res, body } = await postForm(server, "/oauth/revoke", params);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(body, {});
  assert.equal(res.headers.get("cache-control"), "no-store");
}

async function introspect(server: TestServer, params: Record<string, string>): Promise<Json> {
  const { res, body } = await postForm(server, "/oauth/introspect", params, RS);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  return body;
}

function session(server: TestServer, user: keyof typeof USERS = "user1") {
  return loginTokens(server, user, USERS[user]);
}

async function assertHelloStatus(server: TestServer, token: string, status: number): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, status, JSON.stringify(body));
}

async function assertRefreshRefused(server: TestServer, token: string): Promise<void> {
  const { res, body } = await refresh(server, token);
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error, "invalid_grant");
}

/** An access token signed with the server's own current key, expired well past the leeway. */
async function expiredAccessToken(server: TestServer): Promise<string> {
  const now = unixNow();
  const [record] = await server.store.listSigningKeys(now);
  const key = await importJWK(
    JSON.parse((await server.store.currentPrivateJwk(record.kid))!),
    record.alg,
  );
  return await new SignJWT({ client_id: "auth-api", scope: "hello" })
    .setProtectedHeader({ alg: record.alg, kid: record.kid, typ: "at+jwt" })
    .setIssuer(server.config.issuer!)
    .setAudience(server.config.audience!)
    .setSubject("user1")
    .setIssuedAt(now - 1000)
    .setNotBefore(now - 1000)
    .setExpirationTime(now - 100)
    .setJti(crypto.randomUUID())
    .sign(key);
}

Deno.test("POST /oauth/revoke answers 200 for unknown and garbage tokens", async () => {
  await using server = await startTestServer({ users: USERS });
  const unknown = crypto.getRandomValues(new Uint8Array(32))
    .toBase64({ alphabet: "base64url", omitPadding: true });
  for (const token of [unknown, "garbage", "a.b.c", "x".repeat(2000)]) {
    await revoke(server, { token });
    await revoke(server, { token, token_type_hint: "refresh_token" });
    await revoke(server, { token, token_type_hint: "access_token" });
  }
  await revoke(server, { token: "garbage", token_type_hint: "something_else" });
});

Deno.test("POST /oauth/revoke of a refresh token without a hint revokes its family, including the family's access tokens", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await session(server);
  const other = await session(server, "user2");
  const rotated = await refresh(server, first.refresh);
  assert.equal(rotated.res.status, 200);
  const access = rotated.body.access_token as string;
  const refreshToken = rotated.body.refresh_token as string;
  await assertHelloStatus(server, access, 200); // verified and cached before the revocation

  await revoke(server, { token: refreshToken });
  await assertRefreshRefused(server, refreshToken);
  await assertRevoked(server, access);
  await assertRevoked(server, first.access);
  await assertHelloStatus(server, other.access, 200);
  assert.equal((await refresh(server, other.refresh)).res.status, 200);
});

Deno.test("POST /oauth/revoke of a refresh token with token_type_hint refresh_token, or a wrong hint, revokes its family", async () => {
  await using server = await startTestServer({ users: USERS });
  for (const hint of ["refresh_token", "access_token"]) {
    const { access, refresh: refreshToken } = await session(server);
    await revoke(server, { token: refreshToken, token_type_hint: hint });
    await assertRefreshRefused(server, refreshToken);
    await assertRevoked(server, access);
  }
});

Deno.test("POST /oauth/revoke of an access token makes /hello refuse that token only", async () => {
  await using server = await startTestServer({ users: USERS });
  for (const hint of [undefined, "access_token", "refresh_token"]) {
    const { access, refresh: refreshToken } = await session(server);
    await assertHelloStatus(server, access, 200);
    await revoke(server, hint ? { token: access, token_type_hint: hint } : { token: access });
    await assertRevoked(server, access);
    const renewed = await refresh(server, refreshToken);
    assert.equal(renewed.res.status, 200, `hint ${hint}: ${JSON.stringify(renewed.body)}`);
    await assertHelloStatus(server, renewed.body.access_token as string, 200);
  }
});

Deno.test("POST /oauth/revoke answers 400 invalid_request without a token and 401 invalid_client for a wrong client secret", async () => {
  await using server = await startTestServer({ users: USERS, env: INTROSPECTOR });
  const missing = await postForm(server, "/oauth/revoke", {});
  assert.equal(missing.res.status, 400);
  assert.equal(missing.body.error, "invalid_request");
  assert.equal(typeof missing.body.error_description, "string");

  const { refresh: refreshToken } = await session(server);
  const wrong = await postForm(
    server,
    "/oauth/revoke",
    { token: refreshToken },
    basic("rs", "nope"),
  );
  assert.equal(wrong.res.status, 401);
  assert.equal(wrong.body.error, "invalid_client");
  assert.equal((await refresh(server, refreshToken)).res.status, 200, "nothing was revoked");
});

Deno.test("POST /oauth/introspect answers 401 invalid_client without client authentication", async () => {
  await using server = await startTestServer({ users: USERS, env: INTROSPECTOR });
  const { access } = await session(server);
  const attempts: [string, Record<string, string>, Record<string, string>][] = [
    ["no client", { token: access }, {}],
    ["public client id", { token: access, client_id: "someone" }, {}],
    ["confidential id without secret", { token: access, client_id: "rs" }, {}],
    ["wrong secret", { token: access }, basic("rs", "wrong")],
  ];
  for (const [name, params, headers] of attempts) {
    const { res, body } = await postForm(server, "/oauth/introspect", params, headers);
    assert.equal(res.status, 401, name);
    assert.equal(body.error, "invalid_client", name);
    assert.match(res.headers.get("www-authenticate")!, /^Basic /, name);
    assert.equal(body.active, undefined, name);
  }
});

Deno.test("POST /oauth/introspect of an active access token answers active with sub, scope, client_id, exp, iat, iss, aud, jti, token_type", async () => {
  await using server = await startTestServer({ users: USERS, env: INTROSPECTOR });
  const { access } = await session(server);
  const claims = decodeJwt(access);
  const viaBasic = await introspect(server, { token: access });
  const viaPost = await postForm(server, "/oauth/introspect", {
    token: access,
    token_type_hint: "access_token",
    client_id: "rs",
    client_secret: RS_SECRET,
  });
  assert.equal(viaPost.res.status, 200);
  for (const body of [viaBasic, viaPost.body]) {
    assert.equal(body.active, true);
    assert.equal(body.sub, await subjectOf(server, "user1"));
    assert.equal(body.username, "user1");
    assert.equal(body.scope, "hello");
    assert.equal(body.client_id, "auth-api");
    assert.equal(body.exp, claims.exp);
    assert.equal(body.iat, claims.iat);
    assert.equal(body.iss, server.config.issuer);
    assert.equal(body.aud, server.config.audience);
    assert.equal(body.jti, claims.jti);
    assert.equal(body.token_type, "Bearer");
  }
  const hintedWrong = await introspect(server, { token: access, token_type_hint: "refresh_token" });
  assert.equal(hintedWrong.active, true, "a wrong hint does not hide the token");
});

Deno.test("POST /oauth/introspect answers only {active: false} for revoked, expired and garbage tokens", async () => {
  await using server = await startTestServer({ users: USERS, env: INTROSPECTOR });
  const revoked = await session(server);
  assert.equal((await introspect(server, { token: revoked.access })).active, true);
  await revoke(server, { token: revoked.access });
  assert.deepEqual(await introspect(server, { token: revoked.access }), INACTIVE);

  const loggedOut = await session(server);
  await revoke(server, { token: loggedOut.refresh });
  assert.deepEqual(await introspect(server, { token: loggedOut.access }), INACTIVE);
  assert.deepEqual(await introspect(server, { token: loggedOut.refresh }), INACTIVE);

  const expired = await expiredAccessToken(server);
  const { body } = await hello(server, `Bearer ${expired}`);
  assert.deepEqual(body, { msg: "Token has expired" }, "otherwise a valid token of this server");
  assert.deepEqual(await introspect(server, { token: expired }), INACTIVE);

  for (const token of ["garbage", "a.b.c", "A".repeat(43), `${revoked.access}x`]) {
    assert.deepEqual(await introspect(server, { token }), INACTIVE, token);
  }
});

Deno.test("POST /oauth/introspect of a refresh token: active with token_type refresh_token, inactive once used", async () => {
  await using server = await startTestServer({ users: USERS, env: INTROSPECTOR });
  const { refresh: refreshToken } = await session(server);
  const asked: Record<string, string>[] = [
    { token: refreshToken },
    { token: refreshToken, token_type_hint: "refresh_token" },
  ];
  for (const params of asked) {
    const body = await introspect(server, params);
    assert.equal(body.active, true);
    assert.equal(body.token_type, "refresh_token");
    assert.equal(body.sub, await subjectOf(server, "user1"));
    assert.equal(body.username, "user1");
    assert.equal(body.client_id, "auth-api");
    assert.equal(body.scope, "hello");
    assert.equal(typeof body.exp, "number");
    assert.equal(typeof body.iat, "number");
  }
  assert.equal((await refresh(server, refreshToken)).res.status, 200);
  assert.deepEqual(await introspect(server, { token: refreshToken }), INACTIVE);
});

Deno.test("POST /oauth/introspect answers 400 invalid_request without a token", async () => {
  await using server = await startTestServer({ users: USERS, env: INTROSPECTOR });
  const { res, body } = await postForm(server, "/oauth/introspect", {}, RS);
  assert.equal(res.status, 400);
  assert.equal(body.error, "invalid_request");
});

const CONF_SECRET = "confidential-client-secret-0123456789ab";
const CONF = basic("conf", CONF_SECRET);
const TWO_CLIENTS = {
  OAUTH_CLIENTS: `conf:${CONF_SECRET},rs:${RS_SECRET}`,
  OAUTH_INTROSPECTORS: "rs",
};

/** Tokens from the password grant for `client` (form parameters or Basic credentials). */
async function grant(
  server: TestServer,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  const { res, body } = await postForm(server, "/oauth/token", {
    grant_type: "password",
    username: "user1",
    password: USERS.user1,
    ...params,
  }, headers);
  assert.equal(res.status, 200, JSON.stringify(body));
  return { access: body.access_token as string, refresh: body.refresh_token as string };
}

function refreshGrant(
  server: TestServer,
  token: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<{ res: Response; body: Json }> {
  return postForm(server, "/oauth/token", {
    grant_type: "refresh_token",
    refresh_token: token,
    ...params,
  }, headers);
}

function assertUnauthorizedClient(res: Response, body: Json, what: string): void {
  assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`);
  assert.equal(body.error, "unauthorized_client", what);
  assert.equal(body.error_description, "Token was issued to another client", what);
}

Deno.test("POST /oauth/revoke leaves a confidential client's tokens alone unless that client authenticates (RFC 7009 §2.1)", async () => {
  await using server = await startTestServer({ users: USERS, env: TWO_CLIENTS });
  const conf = await grant(server, {}, CONF);
  const attempts: [string, Record<string, string>, Record<string, string>][] = [
    ["no client (the default public client)", {}, {}],
    ["a public client naming itself", { client_id: "someone" }, {}],
    ["another confidential client", {}, RS],
  ];
  for (const token of [conf.refresh, conf.access]) {
    for (const [what, params, headers] of attempts) {
      const { res, body } = await postForm(server, "/oauth/revoke", { token, ...params }, headers);
      assertUnauthorizedClient(res, body, what);
    }
    const unauthenticated = await postForm(server, "/oauth/revoke", { token, client_id: "conf" });
    assert.equal(unauthenticated.res.status, 401, "conf without its secret");
    assert.equal(unauthenticated.body.error, "invalid_client");
  }
  await assertHelloStatus(server, conf.access, 200);
  const renewed = await refreshGrant(server, conf.refresh, {}, CONF);
  assert.equal(renewed.res.status, 200, JSON.stringify(renewed.body));

  const own = await postForm(
    server,
    "/oauth/revoke",
    { token: renewed.body.refresh_token as string },
    CONF,
  );
  assert.equal(own.res.status, 200, JSON.stringify(own.body));
  assert.deepEqual(own.body, {});
  const refused = await refreshGrant(server, renewed.body.refresh_token as string, {}, CONF);
  assert.equal(refused.res.status, 400);
  assert.equal(refused.body.error, "invalid_grant");
  await assertRevoked(server, renewed.body.access_token as string);
});

Deno.test("POST /oauth/revoke by a public client revokes only the tokens issued to it", async () => {
  await using server = await startTestServer({ users: USERS });
  const appA = await grant(server, { client_id: "app-a" });
  for (const token of [appA.refresh, appA.access]) {
    const { res, body } = await postForm(server, "/oauth/revoke", { token, client_id: "app-b" });
    assertUnauthorizedClient(res, body, "app-b");
    const omitted = await postForm(server, "/oauth/revoke", { token });
    assertUnauthorizedClient(omitted.res, omitted.body, "no client_id");
  }
  await assertHelloStatus(server, appA.access, 200);
  const { res } = await postForm(server, "/oauth/revoke", {
    token: appA.refresh,
    client_id: "app-a",
  });
  assert.equal(res.status, 200);
  await assertRevoked(server, appA.access);
  const after = await refreshGrant(server, appA.refresh, { client_id: "app-a" });
  assert.equal(after.body.error, "invalid_grant");
});

Deno.test("POST /oauth/introspect answers {active: false} for tokens of other clients unless the caller is in OAUTH_INTROSPECTORS", async () => {
  await using server = await startTestServer({ users: USERS, env: TWO_CLIENTS });
  const conf = await grant(server, {}, CONF);
  const firstParty = await session(server);
  const ask = async (headers: Record<string, string>, token: string) => {
    const { res, body } = await postForm(server, "/oauth/introspect", { token }, headers);
    assert.equal(res.status, 200, JSON.stringify(body));
    return body;
  };
  // Its own tokens.
  for (const token of [conf.access, conf.refresh]) {
    const body = await ask(CONF, token);
    assert.equal(body.active, true);
    assert.equal(body.client_id, "conf");
  }
  // Another client's tokens look inactive, whatever the hint.
  for (const token of [firstParty.access, firstParty.refresh]) {
    assert.deepEqual(await ask(CONF, token), INACTIVE);
    for (const hint of ["access_token", "refresh_token"]) {
      const { body } = await postForm(
        server,
        "/oauth/introspect",
        { token, token_type_hint: hint },
        CONF,
      );
      assert.deepEqual(body, INACTIVE, hint);
    }
  }
  // The configured introspector sees every client's tokens.
  for (const token of [conf.access, conf.refresh, firstParty.access, firstParty.refresh]) {
    assert.equal((await ask(RS, token)).active, true);
  }
});
