/**
 * @module
 * GET /hello over real HTTPS as the Flask original answers it: the tutorial's greeting for the
 * token's own subject, and 401 with the original's messages for a missing header, a malformed,
 * tampered, foreign or expired token.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { hello, login, startTestServer, type TestServer } from "./helpers/server.ts";
import { sleepUntil } from "./helpers/wait.ts";

const USERS = { user1: "password1" };
const GREETING = `{"message":"Hello, user1! You're authenticated."}`;

async function tokenFor(server: TestServer, username = "user1", password = "password1") {
  const { res, body } = await login(server, username, password);
  assert.equal(res.status, 200);
  return body.access_token as string;
}

/** Calls GET /hello and returns the status, the challenge and the raw body text. */
async function helloText(server: TestServer, authorization?: string) {
  const res = await fetch(`${server.url}/hello`, {
    client: server.client,
    headers: authorization === undefined ? {} : { authorization },
  });
  return { res, challenge: res.headers.get("www-authenticate") ?? "", text: await res.text() };
}

/** Replaces the character at `index` with a different base64url character. */
function flipChar(text: string, index: number): string {
  const replacement = text[index] === "A" ? "B" : "A";
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

function assertInvalidToken(result: Awaited<ReturnType<typeof helloText>>, what: string) {
  assert.equal(result.res.status, 401, what);
  assert.match(result.challenge, /^Bearer realm="[^"]*"/, what);
  assert.match(result.challenge, /error="invalid_token"/, what);
  assert.equal(result.res.headers.get("content-type"), "application/json; charset=utf-8");
  const body = JSON.parse(result.text);
  assert.deepEqual(Object.keys(body), ["msg"], what);
  assert.equal(typeof body.msg, "string", what);
  assert.ok(body.msg.length > 0, what);
  return body.msg as string;
}

Deno.test("GET /hello answers 200 with the tutorial's greeting for a valid token", async () => {
  await using server = await startTestServer({ users: USERS });
  const token = await tokenFor(server);
  const { res, text } = await helloText(server, `Bearer ${token}`);
  assert.equal(res.status, 200);
  assert.equal(text, GREETING);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("www-authenticate"), null);
});

Deno.test("GET /hello greets the token's own subject", async () => {
  await using server = await startTestServer({ users: { ...USERS, user2: "password2" } });
  const { res, body } = await hello(
    server,
    `Bearer ${await tokenFor(server, "user2", "password2")}`,
  );
  assert.equal(res.status, 200);
  assert.deepEqual(body, { message: "Hello, user2! You're authenticated." });
});

Deno.test("GET /hello accepts the scheme in lower case (bearer)", async () => {
  await using server = await startTestServer({ users: USERS });
  const token = await tokenFor(server);
  const { res, text } = await helloText(server, `bearer ${token}`);
  assert.equal(res.status, 200);
  assert.equal(text, GREETING);
});

Deno.test("GET /hello answers 401 Missing Authorization Header without an error code when no header is sent", async () => {
  await using server = await startTestServer({ users: USERS });
  const { res, challenge, text } = await helloText(server);
  assert.equal(res.status, 401);
  assert.equal(text, '{"msg":"Missing Authorization Header"}');
  assert.ok(challenge.startsWith('Bearer realm="'), challenge);
  assert.ok(!challenge.includes("error="), challenge);
});

for (const authorization of ["Basic xyz", "Bearer", "Bearer a b", "Token abc", "xyz"]) {
  Deno.test(`GET /hello answers 401 invalid_token for the Authorization header "${authorization}"`, async () => {
    await using server = await startTestServer({ users: USERS });
    assertInvalidToken(await helloText(server, authorization), authorization);
  });
}

Deno.test("GET /hello answers 401 invalid_token for a malformed token", async () => {
  await using server = await startTestServer({ users: USERS });
  for (const token of ["abc", "a.b", "a.b.c", "a.b.c.d", "e30.e30.", "..", "x".repeat(9000)]) {
    assertInvalidToken(await helloText(server, `Bearer ${token}`), token.slice(0, 20));
  }
});

Deno.test("GET /hello answers 401 invalid_token for a token whose payload was tampered with", async () => {
  await using server = await startTestServer({ users: USERS });
  const [header, payload, signature] = (await tokenFor(server)).split(".");
  const tampered = `${header}.${flipChar(payload, Math.floor(payload.length / 2))}.${signature}`;
  assertInvalidToken(await helloText(server, `Bearer ${tampered}`), "tampered payload");

  // A well-formed payload naming another user, keeping the original signature.
  const claims = JSON.parse(new TextDecoder().decode(
    Uint8Array.fromBase64(payload, { alphabet: "base64url" }),
  ));
  const forged = new TextEncoder().encode(JSON.stringify({ ...claims, sub: "admin" }))
    .toBase64({ alphabet: "base64url", omitPadding: true });
  const msg = assertInvalidToken(
    await helloText(server, `Bearer ${header}.${forged}.${signature}`),
    "forged subject",
  );
  assert.match(msg, /signature/i);
});

Deno.test("GET /hello answers 401 invalid_token for a token whose signature was tampered with", async () => {
  await using server = await startTestServer({ users: USERS });
  const [header, payload, signature] = (await tokenFor(server)).split(".");
  const tampered = `${header}.${payload}.${flipChar(signature, Math.floor(signature.length / 2))}`;
  const msg = assertInvalidToken(await helloText(server, `Bearer ${tampered}`), "signature");
  assert.match(msg, /signature/i);
  // Dropping the signature altogether does not help either.
  assertInvalidToken(await helloText(server, `Bearer ${header}.${payload}.`), "no signature");
});

Deno.test("GET /hello answers 401 invalid_token for a token signed by another server's key", async () => {
  await using issuer = await startTestServer({ users: USERS });
  await using server = await startTestServer({ users: USERS });
  const foreign = await tokenFor(issuer);
  assertInvalidToken(await helloText(server, `Bearer ${foreign}`), "foreign key");
});

Deno.test("GET /hello answers 401 Token has expired once the token's lifetime has passed", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { ACCESS_TOKEN_TTL: "2", JWT_LEEWAY: "0" },
  });
  const token = await tokenFor(server);
  // Fresh: accepted (and remembered by the verification cache).
  const fresh = await helloText(server, `Bearer ${token}`);
  assert.equal(fresh.res.status, 200);
  await sleepUntil(decodeJwt(token).exp!); // the token expires
  const expired = await helloText(server, `Bearer ${token}`);
  assert.equal(expired.res.status, 401);
  assert.equal(expired.text, '{"msg":"Token has expired"}');
  assert.match(expired.challenge, /error="invalid_token"/);
});
