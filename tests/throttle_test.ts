/**
 * The login throttle's decisions, one store step at a time at chosen times: an attempt holds a
 * place until its outcome is reported, and only reported failures count against a budget.
 * `attempt` below is an attempt that fails; `reserve` one whose outcome is not reported yet.
 * The waiting of {@linkcode LoginThrottle.admit} runs on the real clock.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RESERVATION_SECONDS, type ReservedAttempt } from "../src/auth/accounts/throttle.ts";
import { CONFIG, fail, type Failed, setup, T0 } from "./helpers/throttle.ts";

Deno.test("LoginThrottle.reserve admits a name and address never seen and holds a place on both, counting no failure until one is reported", async () => {
  await using f = await setup();
  const reserved = await f.reserve({ username: "alice", address: "203.0.113.1" }, T0);
  const until = T0 + RESERVATION_SECONDS;
  assert.deepEqual(reserved, {
    budget: "shared",
    username: "alice",
    address: "203.0.113.1",
    reservedUntil: until,
  });
  const held = { failures: 0, windowStartAt: T0, blockedUntil: 0, reservedUntil: [until] };
  assert.deepEqual(await f.read("account:alice"), held);
  assert.deepEqual(await f.read("address:203.0.113.1"), held);
  assert.deepEqual(await f.throttle.failed(reserved as ReservedAttempt, T0), []);
  const failed = { failures: 1, windowStartAt: T0, blockedUntil: 0 };
  assert.deepEqual(await f.read("account:alice"), failed);
  assert.deepEqual(await f.read("address:203.0.113.1"), failed);
});

Deno.test("LoginThrottle admits 5 attempts, then waits 1 s, 2 s, 4 s … capped at 900 s", async () => {
  await using f = await setup();
  const expected = [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900];
  const seen: number[] = [];
  let now = T0;
  for (let i = 0; i < expected.length; i++) {
    const outcome = await f.attempt({ username: "alice", address: `198.51.100.${i}` }, now);
    assert.equal(typeof outcome, "object", `attempt ${i + 1} is admitted once the wait is over`);
    const wait = await f.waitOf("alice", "203.0.113.9", now);
    seen.push(wait);
    now += wait; // the caller waits as told, then fails again
  }
  assert.deepEqual(seen, expected);
});

Deno.test("LoginThrottle counts nothing for a throttled attempt", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 5, T0);
  for (let i = 0; i < 10; i++) {
    assert.equal(await f.attempt({ username: "alice", address: "203.0.113.1" }, last), 1);
  }
  assert.equal((await f.read("account:alice"))?.failures, 5);
  assert.equal(await f.read("address:203.0.113.1"), undefined, "the address was not charged");
  // The 6th attempt, once the wait is over, earns the 2 s wait of a 6th failure.
  await f.attempt({ username: "alice", address: "203.0.113.1" }, last + 1);
  assert.equal(await f.waitOf("alice", "203.0.113.1", last + 1), 2);
});

Deno.test("LoginThrottle counts the wait down to 0", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 7, T0); // 7th failure: 4 s
  assert.equal(await f.waitOf("alice", "203.0.113.1", last), 4);
  assert.equal(await f.waitOf("alice", "203.0.113.1", last + 2), 2);
  assert.equal(await f.waitOf("alice", "203.0.113.1", last + 3), 1);
  assert.equal(await f.waitOf("alice", "203.0.113.1", last + 4), 0);
});

Deno.test("LoginThrottle blocks the account from every address and no other account", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 5, T0);
  for (const address of ["203.0.113.1", "2001:db8::/64", "unknown"]) {
    assert.equal(await f.waitOf("alice", address, last), 1);
  }
  assert.equal(await f.waitOf("bob", "203.0.113.1", last), 0, "other accounts free");
});

Deno.test("LoginThrottle.succeeded forgets the account's failures and gives the address its place back", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 4, T0);
  const address = "203.0.113.1";
  await f.attempt({ username: "bob", address }, last); // someone else's failure on the address
  const reserved = await f.reserve({ username: "alice", address }, last);
  assert.equal(typeof reserved, "object");
  assert.deepEqual(await f.read(`address:${address}`), {
    failures: 1,
    windowStartAt: last,
    blockedUntil: 0,
    reservedUntil: [last + RESERVATION_SECONDS],
  });
  await f.throttle.succeeded(reserved as ReservedAttempt, last);
  assert.equal(await f.read("account:alice"), undefined);
  assert.deepEqual(
    await f.read(`address:${address}`),
    { failures: 1, windowStartAt: last, blockedUntil: 0 },
    "bob's failure stays",
  );
  // The count starts over: 4 more failures are free again, the 5th earns 1 s.
  const again = await fail(f, "alice", 4, last + 1);
  assert.equal(await f.waitOf("alice", address, again), 0);
  await f.attempt({ username: "alice", address: "203.0.113.2" }, again + 1);
  assert.equal(await f.waitOf("alice", address, again + 1), 1);
});

Deno.test("LoginThrottle.succeeded leaves an address's later counting window alone", async () => {
  await using f = await setup();
  const address = "203.0.113.1";
  const reserved = await f.reserve({ username: "alice", address }, T0);
  // The window of T0 ends; a new one starts with another user's failure.
  await f.attempt({ username: "bob", address }, T0 + 60);
  await f.throttle.succeeded(reserved as ReservedAttempt, T0 + 60);
  assert.deepEqual(await f.read(`address:${address}`), {
    failures: 1,
    windowStartAt: T0 + 60,
    blockedUntil: 0,
  });
});

Deno.test("LoginThrottle forgets account failures older than resetAfterSeconds", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 10, T0); // 10th failure: 32 s
  assert.equal(await f.waitOf("alice", "203.0.113.1", last), 32);
  const later = last + CONFIG.resetAfterSeconds;
  await f.attempt({ username: "alice", address: "203.0.113.1" }, later);
  assert.equal(await f.waitOf("alice", "203.0.113.1", later), 0, "counts as the 1st");
  assert.equal((await f.read("account:alice"))?.failures, 1);
});

Deno.test("LoginThrottle keeps counting account failures that come within resetAfterSeconds", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 5, T0);
  const later = last + CONFIG.resetAfterSeconds - 1;
  await f.attempt({ username: "alice", address: "203.0.113.1" }, later);
  assert.equal(await f.waitOf("alice", "203.0.113.1", later), 2, "6th failure");
});

Deno.test("LoginThrottle blocks an address after 30 attempts in a minute, across usernames", async () => {
  await using f = await setup();
  const address = "203.0.113.66";
  for (let i = 0; i < 29; i++) {
    await f.attempt({ username: `user${i}`, address }, T0 + i);
    assert.equal(await f.waitOf(`new${i}`, address, T0 + i), 0);
  }
  await f.attempt({ username: "user29", address }, T0 + 29);
  // Blocked for whatever name is tried, until the minute that began at T0 ends.
  assert.equal(await f.waitOf("someone-else", address, T0 + 29), 31);
  assert.equal(await f.waitOf("user0", address, T0 + 59), 1);
  assert.equal(await f.waitOf("user0", address, T0 + 60), 0);
  // Other addresses are not affected, nor are the accounts (one failure each).
  assert.equal(await f.waitOf("someone-else", "203.0.113.67", T0 + 29), 0);
  assert.equal(await f.waitOf("user0", "2001:db8::/64", T0 + 29), 0);
});

Deno.test("LoginThrottle starts a new address budget when the minute is over", async () => {
  await using f = await setup();
  const address = "203.0.113.66";
  for (let i = 0; i < 29; i++) await f.attempt({ username: `user${i}`, address }, T0 + i);
  // The 30th attempt comes after the minute: it opens a new window instead of blocking.
  await f.attempt({ username: "user29", address }, T0 + 60);
  assert.equal(await f.waitOf("x", address, T0 + 60), 0);
  assert.equal((await f.read(`address:${address}`))?.failures, 1);
});

Deno.test("LoginThrottle waits for the later of a blocked account and a blocked address", async () => {
  await using f = await setup({ addressFailuresPerMinute: 5 });
  const address = "203.0.113.5";
  for (let i = 0; i < 5; i++) await f.attempt({ username: "alice", address }, T0);
  // The account waits 1 s, the address until the minute ends.
  assert.equal(await f.waitOf("alice", address, T0), 60);
  assert.equal(await f.waitOf("alice", "203.0.113.6", T0), 1);
  assert.equal(await f.waitOf("bob", address, T0), 60);
});

Deno.test("LoginThrottle treats unknown and known usernames identically", async () => {
  await using f = await setup();
  await f.store.addUser("alice", "$pbkdf2-sha256$i=1$AAAA$AAAA");
  const waits: Record<string, number[]> = { alice: [], nobody: [] };
  for (const username of ["alice", "nobody"]) {
    let now = T0;
    for (let i = 0; i < 8; i++) {
      now = await fail(f, username, 1, now);
      waits[username].push(await f.waitOf(username, "203.0.113.1", now));
    }
  }
  assert.deepEqual(waits.alice, waits.nobody);
  assert.deepEqual(waits.alice, [0, 0, 0, 0, 1, 2, 4, 8]);
  assert.deepEqual(await f.read("account:alice"), await f.read("account:nobody"));
});

Deno.test("LoginThrottle keeps an account and an address named alike apart", async () => {
  await using f = await setup();
  // A username that looks like an address must not share its counter.
  for (let i = 0; i < 30; i++) await f.attempt({ username: `u${i}`, address: "10.0.0.1" }, T0);
  assert.equal(await f.waitOf("10.0.0.1", "10.0.0.2", T0), 0);
});

Deno.test("LoginThrottle counts a device's attempts on the device alone, admitted while account and address are blocked", async () => {
  await using f = await setup({ addressFailuresPerMinute: 5 });
  const address = "203.0.113.7";
  for (let i = 0; i < 5; i++) await f.attempt({ username: "alice", address }, T0);
  assert.equal(await f.waitOf("alice", address, T0), 60);
  const accountBefore = await f.read("account:alice");
  const addressBefore = await f.read(`address:${address}`);
  const device = { username: "alice", address, deviceId: "dev-1" };
  const reserved = await f.reserve(device, T0);
  const until = T0 + RESERVATION_SECONDS;
  assert.deepEqual(reserved, { budget: "device", deviceId: "dev-1", reservedUntil: until });
  assert.deepEqual(await f.read("device:dev-1"), {
    failures: 0,
    windowStartAt: T0,
    blockedUntil: 0,
    reservedUntil: [until],
  });
  assert.deepEqual(await f.throttle.failed(reserved as ReservedAttempt, T0), []);
  assert.deepEqual(await f.read("device:dev-1"), {
    failures: 1,
    windowStartAt: T0,
    blockedUntil: 0,
  });
  assert.deepEqual(await f.read("account:alice"), accountBefore);
  assert.deepEqual(await f.read(`address:${address}`), addressBefore);
  const next = await f.reserve(device, T0 + 1);
  await f.throttle.succeeded(next as ReservedAttempt, T0 + 1);
  assert.equal(await f.read("device:dev-1"), undefined, "a success forgets the device's failures");
  assert.deepEqual(await f.read("account:alice"), accountBefore, "the account stays throttled");
});

Deno.test("LoginThrottle falls back to the account and address once a device spends its budget", async () => {
  await using f = await setup();
  const device = { username: "alice", address: "203.0.113.7", deviceId: "dev-1" };
  for (let i = 0; i < CONFIG.deviceFailures; i++) {
    // The last one spends the budget: that failure puts the device into its wait.
    const failed = await f.attempt(device, T0 + i) as Failed;
    assert.equal(failed.reserved.budget, "device");
    assert.deepEqual(failed.closed, i === CONFIG.deviceFailures - 1 ? ["device"] : []);
  }
  assert.equal((await f.read("device:dev-1"))?.blockedUntil, T0 + 2 + CONFIG.resetAfterSeconds);
  // Spent: the next attempts count on the account, which is throttled after 5.
  for (let i = 0; i < 5; i++) {
    assert.equal((await f.attempt(device, T0 + 10) as Failed).reserved.budget, "shared");
  }
  assert.equal(await f.attempt(device, T0 + 10), 1);
  assert.equal((await f.read("device:dev-1"))?.failures, CONFIG.deviceFailures, "not counted");
  // An hour after its last failure the device has its budget again.
  const later = T0 + 2 + CONFIG.resetAfterSeconds;
  const again = await f.attempt(device, later) as Failed;
  assert.equal(again.reserved.budget, "device");
  assert.deepEqual(again.closed, []);
  assert.equal((await f.read("device:dev-1"))?.failures, 1);
});

Deno.test("LoginThrottle holds exactly the free failures' places when 60 attempts on one account arrive at once; the rest find them busy, and none is a failure", async () => {
  await using f = await setup({ addressFailuresPerMinute: 1000 });
  const outcomes = await Promise.all(
    Array.from(
      { length: 60 },
      (_, i) => f.reserve({ username: "alice", address: `198.51.100.${i % 7}` }, T0),
    ),
  );
  const reserved = outcomes.filter((outcome) => typeof outcome === "object");
  assert.equal(reserved.length, 5);
  assert.equal(outcomes.filter((outcome) => outcome === "busy").length, 55);
  const account = await f.read("account:alice");
  assert.equal(account?.failures, 0);
  assert.equal(account?.reservedUntil?.length, 5);
  // Once the five fail, the account waits, and the next attempt is told so.
  for (const attempt of reserved) await f.throttle.failed(attempt as ReservedAttempt, T0);
  assert.deepEqual(await f.read("account:alice"), {
    failures: 5,
    windowStartAt: T0,
    blockedUntil: T0 + 1,
  });
  assert.equal(await f.reserve({ username: "alice", address: "198.51.100.1" }, T0), 1);
});

Deno.test("LoginThrottle holds exactly a device's budget when attempts with it arrive at once, then the account's", async () => {
  await using f = await setup({ addressFailuresPerMinute: 1000 });
  const outcomes = await Promise.all(
    Array.from(
      { length: 40 },
      () => f.reserve({ username: "alice", address: "203.0.113.1", deviceId: "dev-1" }, T0),
    ),
  );
  const budgets = outcomes.map((outcome) => typeof outcome === "object" ? outcome.budget : outcome);
  assert.equal(budgets.filter((budget) => budget === "device").length, CONFIG.deviceFailures);
  assert.equal(budgets.filter((budget) => budget === "shared").length, CONFIG.freeFailures);
  assert.equal(budgets.filter((budget) => budget === "busy").length, 40 - 3 - 5);
});
