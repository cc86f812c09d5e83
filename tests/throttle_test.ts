import assert from "node:assert/strict";
import { LoginThrottle, type ThrottleOptions } from "../src/auth/throttle.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

const CONFIG: ThrottleOptions = {
  freeFailures: 5,
  baseDelaySeconds: 1,
  maxDelaySeconds: 900,
  resetAfterSeconds: 3600,
  addressFailuresPerMinute: 30,
};
const T0 = Date.UTC(2030, 0, 1) / 1000;

interface Fixture extends AsyncDisposable {
  store: SqliteStore;
  throttle: LoginThrottle;
}

async function setup(config: Partial<ThrottleOptions> = {}): Promise<Fixture> {
  const store = await SqliteStore.open(":memory:");
  return {
    store,
    throttle: new LoginThrottle(store, { ...CONFIG, ...config }),
    [Symbol.asyncDispose]: () => store.close(),
  };
}

/** Records `count` failures of `username` from its own address, one second apart from `start`. */
async function fail(
  throttle: LoginThrottle,
  username: string,
  count: number,
  start: number,
): Promise<number> {
  let now = start;
  for (let i = 0; i < count; i++) {
    // A different address each time, so that only the account counter matters.
    await throttle.recordFailure(username, `198.51.100.${i % 250}`, now);
    now += 1;
  }
  return now - 1;
}

Deno.test("LoginThrottle.retryAfter is 0 for a name and address never seen", async () => {
  await using f = await setup();
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", T0), 0);
});

Deno.test("LoginThrottle allows the first 4 failures without a wait", async () => {
  await using f = await setup();
  for (let i = 0; i < 4; i++) {
    await f.throttle.recordFailure("alice", "203.0.113.1", T0 + i);
    assert.equal(
      await f.throttle.retryAfter("alice", "203.0.113.1", T0 + i),
      0,
      `failure ${i + 1}`,
    );
  }
});

Deno.test("LoginThrottle waits 1 s after the 5th failure, then 2 s, 4 s … capped at 900 s", async () => {
  await using f = await setup();
  const expected = [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900];
  const seen: number[] = [];
  let now = T0;
  for (let i = 0; i < expected.length; i++) {
    await f.throttle.recordFailure("alice", `198.51.100.${i}`, now);
    const wait = await f.throttle.retryAfter("alice", "203.0.113.9", now);
    seen.push(wait);
    now += wait; // the caller waits as told, then fails again
  }
  assert.deepEqual(seen, expected);
});

Deno.test("LoginThrottle.retryAfter counts down and reaches 0 when the wait is over", async () => {
  await using f = await setup();
  const last = await fail(f.throttle, "alice", 7, T0); // 7th failure: 4 s
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", last), 4);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", last + 2), 2);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", last + 3), 1);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", last + 4), 0);
});

Deno.test("LoginThrottle blocks the account from every address", async () => {
  await using f = await setup();
  const last = await fail(f.throttle, "alice", 5, T0);
  for (const address of ["203.0.113.1", "2001:db8::1", "unknown"]) {
    assert.equal(await f.throttle.retryAfter("alice", address, last), 1);
  }
  assert.equal(await f.throttle.retryAfter("bob", "203.0.113.1", last), 0, "other accounts free");
});

Deno.test("LoginThrottle.recordSuccess resets the account's failures", async () => {
  await using f = await setup();
  const last = await fail(f.throttle, "alice", 8, T0);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", last), 8);
  await f.throttle.recordSuccess("alice");
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", last), 0);
  // The count starts over: 4 more failures are free again.
  const again = await fail(f.throttle, "alice", 4, last + 1);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", again), 0);
  await f.throttle.recordFailure("alice", "203.0.113.2", again + 1);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", again + 1), 1);
});

Deno.test("LoginThrottle forgets failures older than resetAfterSeconds", async () => {
  await using f = await setup();
  const last = await fail(f.throttle, "alice", 10, T0); // 10th failure: 32 s
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", last), 32);
  const later = last + CONFIG.resetAfterSeconds;
  await f.throttle.recordFailure("alice", "203.0.113.1", later);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", later), 0, "counts as 1st");
  const stored = await f.store.getThrottle("account:alice");
  assert.equal(stored?.failures, 1);
});

Deno.test("LoginThrottle keeps counting failures that come within resetAfterSeconds", async () => {
  await using f = await setup();
  const last = await fail(f.throttle, "alice", 5, T0);
  const later = last + CONFIG.resetAfterSeconds - 1;
  await f.throttle.recordFailure("alice", "203.0.113.1", later);
  assert.equal(await f.throttle.retryAfter("alice", "203.0.113.1", later), 2, "6th failure");
});

Deno.test("LoginThrottle blocks an address after 30 failures in a minute, across usernames", async () => {
  await using f = await setup();
  const address = "203.0.113.66";
  for (let i = 0; i < 29; i++) {
    await f.throttle.recordFailure(`user${i}`, address, T0 + i);
    assert.equal(await f.throttle.retryAfter(`new${i}`, address, T0 + i), 0);
  }
  await f.throttle.recordFailure("user29", address, T0 + 29);
  // Blocked for whatever name is tried, until the minute that began at T0 ends.
  assert.equal(await f.throttle.retryAfter("someone-else", address, T0 + 29), 31);
  assert.equal(await f.throttle.retryAfter("user0", address, T0 + 59), 1);
  assert.equal(await f.throttle.retryAfter("user0", address, T0 + 60), 0);
  // Other addresses are not affected, nor are the accounts (one failure each).
  assert.equal(await f.throttle.retryAfter("someone-else", "203.0.113.67", T0 + 29), 0);
  assert.equal(await f.throttle.retryAfter("user0", "2001:db8::1", T0 + 29), 0);
});

Deno.test("LoginThrottle starts a new address budget when the minute is over", async () => {
  await using f = await setup();
  const address = "203.0.113.66";
  for (let i = 0; i < 29; i++) await f.throttle.recordFailure(`user${i}`, address, T0 + i);
  // The 30th failure comes after the minute: it opens a new window instead of blocking.
  await f.throttle.recordFailure("user29", address, T0 + 60);
  assert.equal(await f.throttle.retryAfter("x", address, T0 + 60), 0);
  assert.equal((await f.store.getThrottle(`address:${address}`))?.failures, 1);
});

Deno.test("LoginThrottle treats unknown and known usernames identically", async () => {
  await using f = await setup();
  await f.store.addUser("alice", "$pbkdf2-sha256$i=1$AAAA$AAAA");
  const waits: Record<string, number[]> = { alice: [], nobody: [] };
  for (const username of ["alice", "nobody"]) {
    let now = T0;
    for (let i = 0; i < 8; i++) {
      await f.throttle.recordFailure(username, `198.51.100.${i}`, now);
      waits[username].push(await f.throttle.retryAfter(username, "203.0.113.1", now));
      now += 1;
    }
  }
  assert.deepEqual(waits.alice, waits.nobody);
  assert.deepEqual(waits.alice, [0, 0, 0, 0, 1, 2, 4, 8]);
  assert.deepEqual(
    await f.store.getThrottle("account:alice"),
    await f.store.getThrottle("account:nobody"),
  );
});

Deno.test("LoginThrottle keeps an account and an address named alike apart", async () => {
  await using f = await setup();
  // A username that looks like an address must not share its counter.
  for (let i = 0; i < 30; i++) await f.throttle.recordFailure(`u${i}`, "10.0.0.1", T0);
  assert.equal(await f.throttle.retryAfter("10.0.0.1", "10.0.0.2", T0), 0);
});
