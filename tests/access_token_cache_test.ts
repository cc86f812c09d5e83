/**
 * The verification cache of `AccessTokens`: a verified or issued token is verified again without
 * a signature check, a rejected one is never kept, the cache stays within `cacheSize`, and a
 * cached token is refused once it expires or its signing key retires. The answer without a promise
 * of `authenticateBearer` for a token seen before refuses as `verify` does, and counts alike.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeProtectedHeader } from "jose";
import { generateSigningKey } from "../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../src/clock.ts";
import { AuthFailure } from "../src/auth/errors.ts";
import { AccessTokens } from "../src/auth/tokens/access_tokens.ts";
import { Revocations } from "../src/auth/tokens/revocations.ts";
import { authenticateBearer } from "../src/handlers/_authenticate.ts";
import { assertInvalid, es256, OPTIONS } from "./helpers/access_tokens.ts";
import { sleepUntil } from "./helpers/wait.ts";
import { requestContext } from "./helpers/request_context.ts";

Deno.test("AccessTokens.verify caches a verified token and returns the same claims again", async () => {
  await using f = await es256();
  const { token, claims: issued } = await f.tokens.issue("alice");
  assert.equal(f.verifier.cachedCount, 0);
  const first = await f.verifier.verify(token);
  assert.equal(f.verifier.cachedCount, 1);
  const second = await f.verifier.verify(token);
  assert.equal(f.verifier.cachedCount, 1);
  assert.equal(f.verifier.signatureChecks, 1);
  assert.deepEqual(first, issued);
  assert.deepEqual(second, issued);
});

Deno.test("AccessTokens.issue caches the token it signs: its first verification checks no signature", async () => {
  await using f = await es256();
  const { token, claims: issued } = await f.tokens.issue("alice");
  assert.equal(f.tokens.cachedCount, 1);
  assert.deepEqual(await f.tokens.verify(token), issued);
  assert.equal(f.tokens.signatureChecks, 0);
  assert.ok(Object.isFrozen(await f.tokens.verify(token)));
  assert.ok(!Object.isFrozen(issued), "the caller's claims are not the cached object");
});

Deno.test("AccessTokens.verify does not cache a rejected token", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  const [h, p, s] = token.split(".");
  const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
  await assertInvalid(f.verifier.verify(`${h}.${p}.${flipped}`), "Signature verification failed");
  await assertInvalid(f.verifier.verify(`${h}.${p}.${flipped}`), "Signature verification failed");
  assert.equal(f.verifier.cachedCount, 0);
  assert.equal(f.verifier.signatureChecks, 2);
});

Deno.test("AccessTokens cache never holds more than cacheSize tokens", async () => {
  await using f = await es256({ cacheSize: 3 });
  const issued = await Promise.all(Array.from({ length: 10 }, (_, i) => f.tokens.issue(`u${i}`)));
  for (const { token, claims: expected } of issued) {
    assert.deepEqual(await f.tokens.verify(token), expected);
    assert.ok(f.tokens.cachedCount <= 3, `cachedCount ${f.tokens.cachedCount}`);
  }
  assert.equal(f.tokens.cachedCount, 3);
  // Evicted tokens still verify, by signature.
  assert.equal((await f.tokens.verify(issued[0].token)).sub, "u0");
  assert.equal(f.tokens.cachedCount, 3);
});

Deno.test("AccessTokens with cacheSize 0 caches nothing", async () => {
  await using f = await es256({ cacheSize: 0 });
  const { token } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  await f.tokens.verify(token);
  assert.equal(f.tokens.cachedCount, 0);
});

Deno.test("AccessTokens.verify refuses a cached token once it has expired", async () => {
  await using f = await es256({ ttlSeconds: 1, leewaySeconds: 0 });
  const { token, claims } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  assert.equal(f.tokens.cachedCount, 1);
  await sleepUntil(claims.exp); // the token expires
  await assertInvalid(f.tokens.verify(token), "Token has expired");
  assert.equal(f.tokens.cachedCount, 0);
});

Deno.test("AccessTokens.verify refuses a cached token after its signing key retires", async () => {
  await using f = await es256();
  const oldKid = f.keys.signingKey().kid;
  const { token } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  assert.equal(f.tokens.cachedCount, 1);
  const now = unixNow();
  await f.store.rotateSigningKey(await generateSigningKey(now), now - 1, now);
  await f.keys.refresh();
  assert.notEqual(f.keys.signingKey().kid, oldKid);
  await assertInvalid(f.tokens.verify(token), "Unknown signing key");
  const fresh = await f.tokens.issue("alice");
  assert.equal(decodeProtectedHeader(fresh.token).kid, f.keys.signingKey().kid);
  assert.equal((await f.tokens.verify(fresh.token)).sub, "alice");
});

Deno.test("AccessTokens.verify accepts a cached token while its rotated key has not retired", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  const now = unixNow();
  await f.store.rotateSigningKey(await generateSigningKey(now), now + 3600, now);
  await f.keys.refresh();
  assert.equal((await f.tokens.verify(token)).sub, "alice");
});

function bearer(token: string): Request {
  return new Request("https://api.test/hello", { headers: { authorization: `Bearer ${token}` } });
}

async function assertRefused(answer: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(answer, (error) => {
    assert.ok(error instanceof AuthFailure, `expected AuthFailure, got ${error}`);
    assert.equal(error.code, "invalid_token");
    assert.equal(error.reason, reason);
    return true;
  });
}

Deno.test("authenticateBearer refuses a token seen before once revoked, past exp and leeway, or signed by a key retired since: a rejection with the reason, counted", async (t) => {
  await t.step("revoked after it was remembered: a cache hit refused as revoked", async () => {
    await using f = await es256();
    const revocations = await Revocations.open(f.store);
    const tokens = new AccessTokens(f.keys, { ...OPTIONS, revocations });
    const { token, claims } = await tokens.issue("subject-of-alice", { username: "alice" });
    const accepted = authenticateBearer(bearer(token), requestContext(), { tokens });
    assert.ok(!(accepted instanceof Promise), "answered at once while valid");
    await revocations.revoke("jti", claims.jti, claims.exp + OPTIONS.leewaySeconds);
    const refused = authenticateBearer(bearer(token), requestContext(), { tokens });
    assert.ok(refused instanceof Promise, "a refusal is a rejected promise, never a throw");
    await assertRefused(refused, "revoked");
    assert.equal(tokens.cacheHits, 2, "counted as a hit, as verify counts it");
    assert.deepEqual(Object.fromEntries(tokens.outcomes), { valid: 1, revoked: 1 });
    await assertRefused(tokens.verify(token), "revoked");
    assert.equal(tokens.cacheHits, 3, "verify counts it the same way");
    revocations.close();
  });

  await t.step("past its exp and the leeway: refused as expired, and forgotten", async () => {
    await using f = await es256({ ttlSeconds: 1, leewaySeconds: 1 });
    const { token, claims } = await f.tokens.issue("subject-of-alice");
    assert.equal(f.tokens.cachedCount, 1);
    await sleepUntil(claims.exp + 1);
    const refused = authenticateBearer(bearer(token), requestContext(), { tokens: f.tokens });
    assert.ok(refused instanceof Promise);
    await assertRefused(refused, "expired");
    assert.equal(f.tokens.cachedCount, 0);
    assert.equal(f.tokens.cacheHits, 0);
    assert.deepEqual(Object.fromEntries(f.tokens.outcomes), { valid: 0, expired: 1 });
  });

  await t.step("signed by a key retired since: refused as an unknown key", async () => {
    await using f = await es256();
    const { token } = await f.tokens.issue("subject-of-alice");
    const now = unixNow();
    await f.store.rotateSigningKey(await generateSigningKey(now), now - 1, now);
    await f.keys.refresh();
    const refused = authenticateBearer(bearer(token), requestContext(), { tokens: f.tokens });
    assert.ok(refused instanceof Promise);
    await assertRefused(refused, "unknown_key");
    assert.equal(f.tokens.cachedCount, 0);
    assert.deepEqual(Object.fromEntries(f.tokens.outcomes), { valid: 0, unknown_key: 1 });
  });
});
