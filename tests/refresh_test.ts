/**
 * @module
 * POST /refresh over real HTTPS, as the Flask original's clients call it (a JSON body or a Bearer
 * header): refresh tokens kept only as SHA-256 digests, rotated on each use, a reused one revoking
 * its whole family, sessions ending REFRESH_TOKEN_TTL after login and each token
 * REFRESH_TOKEN_IDLE_TTL after its issue, and 400 with OAuth codes for missing, garbage, expired or
 * spent tokens.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { decodeJwt } from "jose";
import { unixNow } from "../src/clock.ts";
import {
  assertRevoked,
  hello,
  loginTokens,
  refresh,
  startTestServer,
  subjectOf,
  type TestServer,
} from "./helpers/server.ts";
import { randomRefreshToken, sha256Hex } from "./helpers/refresh_tokens.ts";

const USERS = { user1: "password1", user2: "password2" };
const REFRESH_TOKEN = /^[A-Za-z0-9_-]{43}$/;

type Json = Record<string, unknown>;

/** POSTs a raw JSON body to /refresh. */
async function refreshWithBody(
  server: TestServer,
  body: string,
): Promise<{ res: Response; body: Json }> {
  const res = await fetch(`${server.url}/refresh`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body,
  });
  return { res, body: await res.json() };
}

/** Logs in and returns the access and refresh tokens. */
function tokensFor(server: TestServer, user: keyof typeof USERS) {
  return loginTokens(server, user, USERS[user]);
}

/** Asserts a 400 answer of /refresh with the given `error` and a `msg`. */
function assertRefreshError(res: Response, body: Json, error: string): void {
  assert.equal(res.status, 400, JSON.stringify(body));
  assert.equal(body.error, error);
  assert.equal(typeof body.msg, "string");
  assert.notEqual(body.msg, "");
}

async function assertHelloOk(server: TestServer, token: string, user: string): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(body, { message: `Hello, ${user}! You're authenticated.` });
}

Deno.test("POST /login returns a 43-character base64url refresh_token that the store keeps only as its SHA-256 hex", async () => {
  await using server = await startTestServer({ users: USERS });
  const { refresh: token } = await tokensFor(server, "user1");
  assert.match(token, REFRESH_TOKEN);

  const record = await server.store.getRefreshToken(await sha256Hex(token));
  assert.ok(record, "the store finds the token by its SHA-256");
  assert.equal(record.family.username, "user1");
  assert.equal(record.family.clientId, "auth-api");
  assert.equal(record.token.usedAt, null);
  assert.equal(record.family.revokedAt, null);
  assert.equal(await server.store.getRefreshToken(token), undefined, "not by the token itself");

  const db = new DatabaseSync(`${server.dir}/data/auth.db`, { readOnly: true });
  try {
    const rows = db.prepare("SELECT * FROM refresh_tokens").all();
    assert.equal(rows.length, 1);
    assert.match(rows[0].token_hash as string, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(rows).includes(token), "no column holds the token");
  } finally {
    db.close();
  }
  for (const file of ["auth.db", "auth.db-wal"]) {
    const bytes = await Deno.readFile(`${server.dir}/data/${file}`).catch(() => new Uint8Array());
    assert.ok(!new TextDecoder().decode(bytes).includes(token), `${file} never holds the token`);
  }
});

Deno.test("POST /refresh with a JSON refresh_token returns a new access token and a new refresh token", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await tokensFor(server, "user1");
  const { res, body } = await refresh(server, first.refresh);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(body.token_type, "Bearer");
  assert.match(body.refresh_token as string, REFRESH_TOKEN);
  assert.notEqual(body.refresh_token, first.refresh);
  assert.notEqual(body.access_token, first.access);
  const claims = decodeJwt(body.access_token as string);
  assert.equal(claims.sub, await subjectOf(server, "user1"));
  assert.equal(claims.sid, decodeJwt(first.access).sid, "same session (refresh family)");
  await assertHelloOk(server, body.access_token as string, "user1");

  const next = await refresh(server, body.refresh_token as string);
  assert.equal(next.res.status, 200, "the new refresh token works in turn");
});

Deno.test("POST /refresh with Authorization: Bearer <refresh token> (flask_jwt_extended style) rotates both tokens", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await tokensFor(server, "user1");
  const { res, body } = await refresh(server, first.refresh, { bearer: true });
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.match(body.refresh_token as string, REFRESH_TOKEN);
  assert.notEqual(body.refresh_token, first.refresh);
  assert.notEqual(body.access_token, first.access);
  await assertHelloOk(server, body.access_token as string, "user1");
});

Deno.test("POST /refresh answers 400 invalid_grant with a msg for a refresh token already exchanged", async () => {
  await using server = await startTestServer({ users: USERS });
  const { refresh: token } = await tokensFor(server, "user1");
  assert.equal((await refresh(server, token)).res.status, 200);
  const json = await refresh(server, token);
  assertRefreshError(json.res, json.body, "invalid_grant");

  const { refresh: other } = await tokensFor(server, "user1");
  assert.equal((await refresh(server, other, { bearer: true })).res.status, 200);
  const bearer = await refresh(server, other, { bearer: true });
  assertRefreshError(bearer.res, bearer.body, "invalid_grant");
});

Deno.test("POST /refresh with a reused refresh token revokes its family: the newest refresh token and every access token of it", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await tokensFor(server, "user1");
  const otherSession = await tokensFor(server, "user1");
  const otherUser = await tokensFor(server, "user2");

  const rotated = await refresh(server, first.refresh);
  assert.equal(rotated.res.status, 200);
  const newestRefresh = rotated.body.refresh_token as string;
  const newestAccess = rotated.body.access_token as string;
  await assertHelloOk(server, newestAccess, "user1"); // verified (and cached) before the replay

  const replay = await refresh(server, first.refresh);
  assertRefreshError(replay.res, replay.body, "invalid_grant");

  const newest = await refresh(server, newestRefresh);
  assertRefreshError(newest.res, newest.body, "invalid_grant");
  await assertRevoked(server, newestAccess);
  await assertRevoked(server, first.access);

  await assertHelloOk(server, otherSession.access, "user1");
  await assertHelloOk(server, otherUser.access, "user2");
  assert.equal((await refresh(server, otherSession.refresh)).res.status, 200);
  assert.equal((await refresh(server, otherUser.refresh)).res.status, 200);
});

Deno.test("a session ends REFRESH_TOKEN_TTL after its login however often it is refreshed; each token also expires REFRESH_TOKEN_IDLE_TTL after its issue", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { REFRESH_TOKEN_TTL: "3600", REFRESH_TOKEN_IDLE_TTL: "600" },
  });
  const loginAt = unixNow();
  let { refresh: token } = await tokensFor(server, "user1");
  const first = await server.store.getRefreshToken(await sha256Hex(token));
  assert.ok(first);
  assert.ok(Math.abs(first.family.expiresAt - (loginAt + 3600)) <= 1, "absolute end");
  assert.ok(Math.abs(first.token.expiresAt - (loginAt + 600)) <= 1, "idle expiry");
  for (let i = 0; i < 3; i++) {
    const { res, body } = await refresh(server, token);
    assert.equal(res.status, 200, JSON.stringify(body));
    token = body.refresh_token as string;
    const next = await server.store.getRefreshToken(await sha256Hex(token));
    assert.equal(next?.family.expiresAt, first.family.expiresAt, "the end never moves");
    assert.ok(next && Math.abs(next.token.expiresAt - (next.token.createdAt + 600)) <= 0);
  }
});

Deno.test("POST /refresh refuses a session past its absolute lifetime although its token was just issued", async () => {
  // Two seconds, below what REFRESH_TOKEN_TTL accepts, so that the test can wait for it.
  await using server = await startTestServer({
    users: USERS,
    config: { refreshTokenTtlSeconds: 2, refreshTokenIdleTtlSeconds: 2 },
  });
  const loginAt = unixNow();
  let { refresh: token } = await tokensFor(server, "user1");
  const deadline = Date.now() + 15_000;
  let refused: Json | undefined;
  while (Date.now() < deadline) {
    const { res, body } = await refresh(server, token);
    if (res.status !== 200) {
      assertRefreshError(res, body, "invalid_grant");
      refused = body;
      break;
    }
    token = body.refresh_token as string;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.ok(refused, "the session ended");
  assert.match(refused.msg as string, /expired/i);
  assert.ok(unixNow() >= loginAt + 2, "not before its end");
  const state = await server.store.getRefreshToken(await sha256Hex(token));
  assert.ok(state && state.token.expiresAt <= state.family.expiresAt);
});

Deno.test("POST /refresh answers 400 invalid_grant for a stored refresh token whose expiry has passed", async () => {
  await using server = await startTestServer({ users: USERS });
  const token = randomRefreshToken();
  const now = unixNow();
  const user = await server.store.getUser("user1");
  assert.ok(user);
  const familyId = crypto.randomUUID();
  const started = await server.store.startRefreshFamily({
    id: familyId,
    username: "user1",
    subject: user.subject,
    clientId: "auth-api",
    createdAt: now - 120,
    expiresAt: now + 3600,
    accessExpiresAt: now - 60,
    revokedAt: null,
  }, {
    tokenHash: await sha256Hex(token),
    familyId,
    scope: "hello",
    createdAt: now - 120,
    expiresAt: now - 60,
    usedAt: null,
  }, user.passwordHash);
  assert.ok(started);
  const { res, body } = await refresh(server, token);
  assertRefreshError(res, body, "invalid_grant");
  assert.match(body.msg as string, /expired/i);
  assert.equal((await server.store.getRefreshToken(await sha256Hex(token)))?.token.usedAt, null);
});

Deno.test("POST /refresh answers 400 invalid_request when no refresh token is sent", async () => {
  await using server = await startTestServer({ users: USERS });
  for (const raw of ["{}", '{"refresh_token": ""}', '{"refresh_token": 42}', "[]"]) {
    const { res, body } = await refreshWithBody(server, raw);
    assertRefreshError(res, body, "invalid_request");
    assert.equal(body.msg, "Missing refresh token", raw);
  }
});

Deno.test("POST /refresh answers 400 invalid_grant for garbage, unknown and access tokens", async () => {
  await using server = await startTestServer({ users: USERS });
  const { access } = await tokensFor(server, "user1");
  for (const token of ["garbage", "x".repeat(5000), randomRefreshToken(), access]) {
    for (const bearer of [false, true]) {
      const { res, body } = await refresh(server, token, { bearer });
      assertRefreshError(res, body, "invalid_grant");
    }
  }
});
