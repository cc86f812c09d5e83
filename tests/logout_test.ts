/**
 * @module
 * POST /logout over real HTTPS: it revokes the session's refresh token and every access token of
 * the session, cached ones included, answers 401 without a valid token, leaves the same user's
 * other sessions alone, and holds across a restart on the same store.
 */
import assert from "node:assert/strict";
import {
  assertRevoked,
  hello,
  loginTokens,
  refresh,
  startTestServer,
  type TestServer,
} from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const USERS = { user1: "password1" };

type Json = Record<string, unknown>;

async function logout(
  server: TestServer,
  authorization?: string,
): Promise<{ res: Response; body: Json }> {
  const res = await fetch(`${server.url}/logout`, {
    method: "POST",
    client: server.client,
    headers: authorization === undefined ? {} : { authorization },
  });
  return { res, body: await res.json() };
}

async function assertHelloOk(server: TestServer, token: string): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(body, { message: "Hello, user1! You're authenticated." });
}

function assertInvalidGrant(res: Response, body: Json): void {
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error, "invalid_grant");
  assert.equal(typeof body.msg, "string");
}

Deno.test("POST /logout answers 200 and /hello then refuses the token as revoked, though it was verified and cached before", async () => {
  await using server = await startTestServer({ users: USERS });
  const { access } = await loginTokens(server);
  await assertHelloOk(server, access);
  await assertHelloOk(server, access); // now served from the verification cache

  const { res, body } = await logout(server, `Bearer ${access}`);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(body, { msg: "Successfully logged out" });
  assert.equal(res.headers.get("cache-control"), "no-store");
  await assertRevoked(server, access);
});

Deno.test("POST /logout revokes the session's refresh token and the access tokens issued by earlier refreshes", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await loginTokens(server);
  const rotated = await refresh(server, first.refresh);
  assert.equal(rotated.res.status, 200);
  const access = rotated.body.access_token as string;
  const refreshToken = rotated.body.refresh_token as string;

  assert.equal((await logout(server, `Bearer ${access}`)).res.status, 200);
  const again = await refresh(server, refreshToken);
  assertInvalidGrant(again.res, again.body);
  await assertRevoked(server, access);
  await assertRevoked(server, first.access);
});

Deno.test("POST /logout answers 401 without a token, with a garbage token and with an already revoked token", async () => {
  await using server = await startTestServer({ users: USERS });
  const missing = await logout(server);
  assert.equal(missing.res.status, 401);
  assert.deepEqual(missing.body, { msg: "Missing Authorization Header" });
  assert.match(missing.res.headers.get("www-authenticate")!, /^Bearer /);

  const garbage = await logout(server, "Bearer x.y.z");
  assert.equal(garbage.res.status, 401);
  assert.match(garbage.res.headers.get("www-authenticate")!, /error="invalid_token"/);

  const { access } = await loginTokens(server);
  assert.equal((await logout(server, `Bearer ${access}`)).res.status, 200);
  const twice = await logout(server, `Bearer ${access}`);
  assert.equal(twice.res.status, 401);
  assert.deepEqual(twice.body, { msg: "Token has been revoked" });
});

Deno.test("POST /logout ends only its own session: another login of the same user keeps working", async () => {
  await using server = await startTestServer({ users: USERS });
  const ended = await loginTokens(server);
  const kept = await loginTokens(server);
  assert.equal((await logout(server, `Bearer ${ended.access}`)).res.status, 200);
  await assertRevoked(server, ended.access);
  await assertHelloOk(server, kept.access);
  const renewed = await refresh(server, kept.refresh);
  assert.equal(renewed.res.status, 200, JSON.stringify(renewed.body));
  await assertHelloOk(server, renewed.body.access_token as string);
});

Deno.test("a logout survives a restart: a new server on the same store still refuses the revoked tokens", async () => {
  await using dir = await tempDir();
  // A fixed issuer and audience: the restarted server binds another port.
  const env = { JWT_ISSUER: "https://auth.example.test", JWT_AUDIENCE: "https://api.example.test" };
  let ended, kept;
  {
    await using first = await startTestServer({ users: USERS, env, dir: dir.path });
    ended = await loginTokens(first);
    kept = await loginTokens(first);
    await assertHelloOk(first, ended.access);
    assert.equal((await logout(first, `Bearer ${ended.access}`)).res.status, 200);
  }
  await using second = await startTestServer({ env, dir: dir.path });
  await assertRevoked(second, ended.access);
  const refused = await refresh(second, ended.refresh);
  assertInvalidGrant(refused.res, refused.body);
  await assertHelloOk(second, kept.access);
  assert.equal((await refresh(second, kept.refresh)).res.status, 200);
});
