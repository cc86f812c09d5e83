/**
 * @module
 * The invalid-token budget below the routes: `InvalidTokenBudget` charges each address group until
 * the minute ends, refunds what valid tokens took and tracks a bounded number of addresses, and
 * `AccessTokens` with a budget refuses a spent address's uncached tokens unchecked, charging
 * expired and wrongly signed tokens alike and at most the budget of racing ones.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { AuthFailure } from "../src/auth/errors.ts";
import { SigningKeys } from "../src/auth/tokens/signing_keys.ts";
import { InvalidTokenBudget } from "../src/auth/tokens/invalid_token_budget.ts";
import {
  ACCESS_TOKEN_TYPE,
  type AccessTokenOptions,
  AccessTokens,
} from "../src/auth/tokens/access_tokens.ts";
import { unixNow } from "../src/clock.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

const T0 = 1_700_000_000;
const OPTIONS: AccessTokenOptions = {
  issuer: "https://issuer.test",
  audience: "https://api.test",
  ttlSeconds: 900,
  leewaySeconds: 30,
  maxTokenBytes: 8192,
};

/** Asserts that `fn` throws AuthFailure("throttled") asking to retry after `seconds`. */
function assertThrottled(fn: () => unknown, seconds?: number): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof AuthFailure, `expected AuthFailure, got ${error}`);
    assert.equal(error.code, "throttled");
    assert.equal(error.message, "Too many invalid tokens; try again later");
    if (seconds !== undefined) assert.equal(error.retryAfterSeconds, seconds);
    return true;
  });
}

async function assertRejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof AuthFailure, `expected AuthFailure, got ${error}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** A key ring on a fresh in-memory store, closed on dispose. */
async function openKeys(): Promise<{ keys: SigningKeys } & AsyncDisposable> {
  const store = await SqliteStore.open(":memory:");
  const keys = await SigningKeys.open(store);
  return {
    keys,
    async [Symbol.asyncDispose]() {
      keys.close();
      await store.close();
    },
  };
}

function flipSignature(token: string): string {
  const [h, p, s] = token.split(".");
  return `${h}.${p}.${(s[0] === "A" ? "B" : "A") + s.slice(1)}`;
}

Deno.test("InvalidTokenBudget charges an address until it has spent its budget, then refuses until the minute ends", () => {
  const budget = new InvalidTokenBudget({ perMinute: 3, maxTrackedAddresses: 100 });
  for (let i = 0; i < 3; i++) budget.take("192.0.2.1", T0 + i);
  assertThrottled(() => budget.take("192.0.2.1", T0 + 3), 57);
  assertThrottled(() => budget.take("192.0.2.1", T0 + 59), 1);
  budget.take("192.0.2.2", T0 + 3); // another address is not affected
  budget.take("192.0.2.1", T0 + 60); // a new minute
  budget.take("192.0.2.1", T0 + 61);
  budget.take("192.0.2.1", T0 + 62);
  assertThrottled(() => budget.take("192.0.2.1", T0 + 62), 58);
});

Deno.test("InvalidTokenBudget refuses with one error per address and second, not one per request", () => {
  const budget = new InvalidTokenBudget({ perMinute: 1, maxTrackedAddresses: 100 });
  budget.take("192.0.2.1", T0);
  const refusal = (now: number) => {
    try {
      budget.take("192.0.2.1", now);
    } catch (error) {
      return error;
    }
    assert.fail("not refused");
  };
  const first = refusal(T0 + 5);
  assert.equal(refusal(T0 + 5), first);
  const next = refusal(T0 + 6) as AuthFailure;
  assert.notEqual(next, first);
  assert.equal(next.retryAfterSeconds, 54);
  assert.equal((first as AuthFailure).retryAfterSeconds, 55);
});

Deno.test("InvalidTokenBudget takes back what a valid token refunds, so only failures use it up", () => {
  const budget = new InvalidTokenBudget({ perMinute: 2, maxTrackedAddresses: 100 });
  for (let i = 0; i < 100; i++) budget.take("192.0.2.1", T0)(); // valid tokens
  const pending = [budget.take("192.0.2.1", T0), budget.take("192.0.2.1", T0)];
  // Two checks in flight hold the whole budget: a third racing them is refused unchecked.
  assertThrottled(() => budget.take("192.0.2.1", T0));
  pending[0](); // the first proved valid
  budget.take("192.0.2.1", T0);
  assertThrottled(() => budget.take("192.0.2.1", T0));
});

Deno.test("InvalidTokenBudget counts each address group apart, as the edge names them", () => {
  const budget = new InvalidTokenBudget({ perMinute: 2, maxTrackedAddresses: 100 });
  budget.take("2001:db8:1:2::/64", T0);
  budget.take("2001:db8:1:2::/64", T0);
  assertThrottled(() => budget.take("2001:db8:1:2::/64", T0));
  budget.take("2001:db8:1:3::/64", T0);
  budget.take("192.0.2.1", T0);
  budget.take("192.0.2.2", T0);
  budget.take("192.0.2.1", T0);
  assertThrottled(() => budget.take("192.0.2.1", T0));
});

Deno.test("InvalidTokenBudget tracks at most maxTrackedAddresses, forgetting the oldest window first", () => {
  const budget = new InvalidTokenBudget({ perMinute: 1, maxTrackedAddresses: 3 });
  budget.take("192.0.2.1", T0);
  budget.take("192.0.2.2", T0 + 1);
  budget.take("192.0.2.3", T0 + 2);
  budget.take("192.0.2.1", T0 + 61); // a new window for .1: now the newest
  assert.equal(budget.trackedCount, 3);
  budget.take("192.0.2.4", T0 + 62); // evicts .2, whose window began first
  assert.equal(budget.trackedCount, 3);
  assertThrottled(() => budget.take("192.0.2.1", T0 + 62));
  assertThrottled(() => budget.take("192.0.2.3", T0 + 61));
  budget.take("192.0.2.2", T0 + 62); // forgotten, so charged afresh
  for (let i = 0; i < 1000; i++) budget.take(`198.51.${i >> 8}.${i & 255}`, T0 + 70);
  assert.equal(budget.trackedCount, 3);
});

Deno.test("AccessTokens with a budget refuses an address's uncached tokens unchecked once it is spent", async () => {
  await using ring = await openKeys();
  const { keys } = ring;
  {
    const budget = new InvalidTokenBudget({ perMinute: 5, maxTrackedAddresses: 100 });
    const tokens = new AccessTokens(keys, { ...OPTIONS, invalidTokenBudget: budget });
    const elsewhere = new AccessTokens(keys, OPTIONS); // another instance: its tokens are not cached here
    const attacker = { from: "192.0.2.66" };
    const forged = flipSignature((await elsewhere.issue("alice")).token);
    const seen = await elsewhere.issue("alice");
    await tokens.verify(seen.token, { from: "192.0.2.1" }); // verified once, so cached
    const mine = await tokens.issue("bob"); // issued here, so cached
    const unseen = await elsewhere.issue("carol");
    const checksBefore = tokens.signatureChecks;

    for (let i = 0; i < 5; i++) {
      await assertRejectsWith(tokens.verify(forged, attacker), "invalid_token");
    }
    assert.equal(tokens.signatureChecks, checksBefore + 5);
    for (let i = 0; i < 20; i++) {
      await assertRejectsWith(tokens.verify(forged, attacker), "throttled");
    }
    assert.equal(tokens.signatureChecks, checksBefore + 5, "no signature check once over budget");

    // From the same address: tokens already verified or issued here still pass (a map lookup),
    // a valid token never seen here waits like a forged one, and nothing costs a signature check.
    assert.equal((await tokens.verify(seen.token, attacker)).sub, "alice");
    assert.equal((await tokens.verify(mine.token, attacker)).sub, "bob");
    await assertRejectsWith(tokens.verify(unseen.token, attacker), "throttled");
    assert.equal(tokens.signatureChecks, checksBefore + 5);
    // Other addresses, and callers that present no address (introspection), are not affected.
    assert.equal((await tokens.verify(unseen.token, { from: "192.0.2.2" })).sub, "carol");
    await assertRejectsWith(tokens.verify(forged), "invalid_token");
    // Tokens that fail the structural check cost nothing and are not counted.
    const budget2 = new InvalidTokenBudget({ perMinute: 1, maxTrackedAddresses: 100 });
    const strict = new AccessTokens(keys, { ...OPTIONS, invalidTokenBudget: budget2 });
    for (let i = 0; i < 5; i++) {
      await assertRejectsWith(strict.verify("a.b", { from: "192.0.2.9" }), "invalid_token");
    }
    assert.equal(budget2.trackedCount, 0);
  }
});

Deno.test("AccessTokens charges expired and wrongly signed tokens alike, and only their presenter", async () => {
  await using ring = await openKeys();
  const { keys } = ring;
  {
    const budget = new InvalidTokenBudget({ perMinute: 2, maxTrackedAddresses: 100 });
    const tokens = new AccessTokens(keys, { ...OPTIONS, invalidTokenBudget: budget });
    const { kid, alg, key } = keys.signingKey();
    const now = unixNow();
    const expired = await new SignJWT({
      iss: OPTIONS.issuer,
      aud: OPTIONS.audience,
      sub: "alice",
      iat: now - 3600,
      nbf: now - 3600,
      exp: now - 600,
      jti: crypto.randomUUID(),
    }).setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE }).sign(key);
    const forged = flipSignature((await new AccessTokens(keys, OPTIONS).issue("bob")).token);
    const from = { from: "192.0.2.5" };
    await assert.rejects(tokens.verify(expired, from), {
      code: "invalid_token",
      message: "Token has expired",
    });
    await assertRejectsWith(tokens.verify(forged, from), "invalid_token");
    await assertRejectsWith(tokens.verify(expired, from), "throttled");
    await assertRejectsWith(tokens.verify(expired, { from: "192.0.2.6" }), "invalid_token");
    assert.equal(tokens.signatureChecks, 3);
  }
});

Deno.test("AccessTokens checks at most the budget of racing invalid tokens from one address", async () => {
  await using ring = await openKeys();
  const { keys } = ring;
  const elsewhere = new AccessTokens(keys, OPTIONS);
  for (let round = 0; round < 10; round++) {
    const budget = new InvalidTokenBudget({ perMinute: 5, maxTrackedAddresses: 100 });
    const tokens = new AccessTokens(keys, { ...OPTIONS, invalidTokenBudget: budget });
    const valid = await Promise.all(Array.from({ length: 10 }, () => elsewhere.issue("alice")));
    const forged = valid.map(({ token }) => flipSignature(token));
    // Valid and forged tokens race; the valid ones give their charge back when they pass.
    const results = await Promise.allSettled(
      [...forged, ...forged, ...valid.map(({ token }) => token)]
        .map((token) => tokens.verify(token, { from: "192.0.2.7" })),
    );
    const codes = results.map((result) =>
      result.status === "fulfilled" ? "ok" : (result.reason as AuthFailure).code
    );
    assert.equal(codes.filter((code) => code === "invalid_token").length, 5, codes.join());
    assert.ok(codes.every((code) => ["ok", "invalid_token", "throttled"].includes(code)));
    assert.ok(codes.includes("throttled"));
    assert.ok(tokens.signatureChecks <= 5 + 10, `signature checks ${tokens.signatureChecks}`);
  }
});
