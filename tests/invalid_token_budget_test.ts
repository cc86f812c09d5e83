/**
 * @module
 * The budget of invalid tokens per client address over real HTTPS: after
 * INVALID_TOKEN_BUDGET_PER_MINUTE forged tokens an address gets 429 with Retry-After and no more
 * signature checks, also when forgeries race in parallel, while tokens seen or issued here still
 * pass; /oauth/revoke charges forged access tokens to the same budget.
 */
import assert from "node:assert/strict";
import { unseenValidToken } from "./helpers/forged_tokens.ts";
import { hello, loginToken, startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { user1: "password1" };
const BUDGET = 10;
const THROTTLED_MSG = "Too many invalid tokens; try again later";

function startServer(): Promise<TestServer> {
  return startTestServer({
    users: USERS,
    env: { INVALID_TOKEN_BUDGET_PER_MINUTE: String(BUDGET) },
  });
}

/** The token with one bit of its signature flipped: a valid kid, a signature that fails. */
function forge(token: string): string {
  const [header, payload, signature] = token.split(".");
  const bytes = Uint8Array.fromBase64(signature, { alphabet: "base64url" });
  bytes[bytes.length - 1] ^= 0x01;
  return `${header}.${payload}.${bytes.toBase64({ alphabet: "base64url", omitPadding: true })}`;
}

function signatureChecks(server: TestServer): number {
  return server.running.tokens.signatureChecks;
}

function assertThrottled(res: Response, body: Record<string, unknown>): void {
  assert.equal(res.status, 429, JSON.stringify(body));
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${res.headers.get("retry-after")}`);
  assert.deepEqual(body, { msg: THROTTLED_MSG });
  assert.equal(res.headers.get("www-authenticate"), null);
}

Deno.test("GET /hello: after INVALID_TOKEN_BUDGET_PER_MINUTE forged tokens from one address, 429 with Retry-After and no signature check", async () => {
  await using server = await startServer();
  const real = await loginToken(server);
  const forged = forge(real);

  // A missing header is not an invalid token: many of them leave the budget untouched.
  for (let i = 0; i < 3 * BUDGET; i++) {
    const { res, body } = await hello(server);
    assert.equal(res.status, 401);
    assert.deepEqual(body, { msg: "Missing Authorization Header" });
  }
  const before = signatureChecks(server);
  for (let i = 0; i < BUDGET; i++) {
    const { res, body } = await hello(server, `Bearer ${forged}`); // the same token replayed
    assert.equal(res.status, 401);
    assert.deepEqual(body, { msg: "Signature verification failed" });
  }
  assert.equal(signatureChecks(server), before + BUDGET);

  const answers = await Promise.all(
    Array.from({ length: 40 }, () => hello(server, `Bearer ${forged}`)),
  );
  for (const { res, body } of answers) assertThrottled(res, body);
  assert.equal(signatureChecks(server), before + BUDGET, "no verification once over budget");

  // Lying about the client address does not reset the budget.
  const lies: Record<string, string>[] = [
    { "x-forwarded-for": "203.0.113.9" },
    { forwarded: "for=198.51.100.4" },
    { "x-real-ip": "192.0.2.200" },
  ];
  for (const headers of lies) {
    const res = await fetch(`${server.url}/hello`, {
      client: server.client,
      headers: { ...headers, authorization: `Bearer ${forged}` },
    });
    assertThrottled(res, await res.json());
  }
  assert.equal(signatureChecks(server), before + BUDGET);
  const lines = server.logs.filter((line) => line.msg === "request" && line.status === 429);
  assert.ok(lines.length >= 40);
  assert.ok(!server.rawLogs.some((line) => line.includes(forged.split(".")[2])));
});

Deno.test("GET /hello from an address over its invalid-token budget: tokens seen or issued here pass, unseen valid tokens wait", async () => {
  await using server = await startServer();
  const issuedHere = await loginToken(server);
  const seen = await unseenValidToken(server);
  assert.equal((await hello(server, `Bearer ${seen}`)).res.status, 200); // now seen
  const unseen = await unseenValidToken(server);
  const forged = forge(issuedHere);
  for (let i = 0; i < BUDGET; i++) await hello(server, `Bearer ${forged}`);
  const before = signatureChecks(server);

  for (const token of [issuedHere, seen]) {
    const { res, body } = await hello(server, `Bearer ${token}`);
    assert.equal(res.status, 200);
    assert.deepEqual(body, { message: "Hello, user1! You're authenticated." });
  }
  const { res, body } = await hello(server, `Bearer ${unseen}`);
  assertThrottled(res, body);
  // A fresh login from the same address is not a token check: it works, and its token passes.
  const fresh = await loginToken(server);
  assert.equal((await hello(server, `Bearer ${fresh}`)).res.status, 200);
  assert.equal(signatureChecks(server), before);
  // A missing header still gets its own answer.
  assert.equal((await hello(server)).res.status, 401);
});

Deno.test("GET /hello: racing forged tokens from one address get at most the budget of checks (rounds of parallel requests)", async () => {
  for (let round = 0; round < 6; round++) {
    await using server = await startServer();
    const real = await loginToken(server);
    // Odd rounds mix in valid tokens never seen here: each holds a unit of the budget while it
    // is checked and gives it back when it passes.
    const valid = round % 2
      ? await Promise.all(Array.from({ length: 10 }, () => unseenValidToken(server)))
      : [];
    const before = signatureChecks(server);
    const tokens = [...Array.from({ length: 40 }, () => forge(real)), ...valid];
    tokens.sort(() => Math.random() - 0.5);
    const answers = await Promise.all(tokens.map((token) => hello(server, `Bearer ${token}`)));
    const statuses = answers.map(({ res }) => res.status);
    const refused = statuses.filter((status) => status === 401).length;
    const passed = statuses.filter((status) => status === 200).length;
    assert.ok(statuses.every((status) => [200, 401, 429].includes(status)), statuses.join());
    if (valid.length === 0) assert.equal(refused, BUDGET, statuses.join());
    else assert.ok(refused <= BUDGET && passed <= valid.length, statuses.join());
    assert.equal(signatureChecks(server) - before, refused + passed);
    // The real token, cached at login, is never refused.
    assert.equal((await hello(server, `Bearer ${real}`)).res.status, 200);
  }
});

Deno.test("POST /oauth/revoke charges forged access tokens to the address and answers 429 temporarily_unavailable once spent", async () => {
  await using server = await startServer();
  const real = await loginToken(server);
  const forged = forge(real);
  // A public client's revocation; the real token is the first-party client's (from /login).
  const revoke = async (token: string, clientId = "my-app") => {
    const res = await fetch(`${server.url}/oauth/revoke`, {
      method: "POST",
      client: server.client,
      body: new URLSearchParams({ token, token_type_hint: "access_token", client_id: clientId }),
    });
    return { res, body: await res.json() };
  };
  const before = signatureChecks(server);
  for (let i = 0; i < BUDGET; i++) {
    const { res, body } = await revoke(forged);
    assert.equal(res.status, 200, JSON.stringify(body)); // RFC 7009: invalid tokens are ignored
  }
  const { res, body } = await revoke(forged);
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get("retry-after")) >= 1);
  assert.deepEqual(body, { error: "temporarily_unavailable", error_description: THROTTLED_MSG });
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(signatureChecks(server), before + BUDGET);
  // /hello shares the budget, and the real token (seen here) can still be revoked.
  assert.equal((await hello(server, `Bearer ${forged}`)).res.status, 429);
  assert.equal((await revoke(real, "auth-api")).res.status, 200);
  assert.equal((await hello(server, `Bearer ${real}`)).body.msg, "Token has been revoked");
});

Deno.test("GET /hello: by default the 31st invalid token from an address within a minute gets 429", async () => {
  await using server = await startTestServer({ users: USERS });
  assert.equal(server.config.invalidTokenBudget.perMinute, 30);
  const forged = forge(await loginToken(server));
  const statuses: number[] = [];
  for (let i = 0; i < 31; i++) statuses.push((await hello(server, `Bearer ${forged}`)).res.status);
  assert.deepEqual(statuses, [...Array(30).fill(401), 429]);
});
