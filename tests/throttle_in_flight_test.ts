/**
 * Attempts in flight: places on a budget are held by attempts whose outcome is not reported yet,
 * never more than failures are left before a wait; a success keeps the others' places; a place
 * lapses when its outcome never comes (the process died during the check). And
 * {@linkcode LoginThrottle.admit} on the real clock: an attempt that finds every place held
 * waits for one, woken by outcomes in this process or by polling the store for another
 * instance's, and is refused, claiming no failures, only when its wait runs out, or as the
 * service stops.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  IN_FLIGHT_POLL_MS,
  RESERVATION_SECONDS,
  type ReservedAttempt,
} from "../src/auth/accounts/throttle.ts";
import { AuthFailure } from "../src/auth/errors.ts";
import { unixNow } from "../src/clock.ts";
import { fail, refusalOf, setup, T0 } from "./helpers/throttle.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { sleep } from "./helpers/wait.ts";

const ALICE = { username: "alice", address: "203.0.113.1" };

/** Reserves `count` attempts at once; returns the reservations and the number found busy. */
async function reserveMany(
  reserve: () => Promise<ReservedAttempt | number | "busy">,
  count: number,
): Promise<{ reserved: ReservedAttempt[]; busy: number }> {
  const outcomes = await Promise.all(Array.from({ length: count }, reserve));
  return {
    reserved: outcomes.filter((outcome) => typeof outcome === "object"),
    busy: outcomes.filter((outcome) => outcome === "busy").length,
  };
}

/** Whether `promise` is still pending after the microtasks and `ms`. */
async function pending(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await sleep(ms);
  return !settled;
}

/** The seconds since `start`, a `performance.now()`. */
function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

Deno.test("LoginThrottle admits no more attempts in flight than failures are left before a wait", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 3, T0);
  const first = await reserveMany(() => f.reserve(ALICE, last), 5);
  assert.equal(first.reserved.length, 2);
  assert.equal(first.busy, 3);
  // One fails: 4 failures, 1 in flight, no place left.
  await f.throttle.failed(first.reserved[0], last);
  assert.equal(await f.reserve(ALICE, last), "busy");
  // The other succeeds: the failures are forgotten, and all five places are free again.
  await f.throttle.succeeded(first.reserved[1], last);
  assert.equal(await f.read("account:alice"), undefined);
  const again = await reserveMany(() => f.reserve(ALICE, last), 7);
  assert.equal(again.reserved.length, 5);
  assert.equal(again.busy, 2);
});

Deno.test("LoginThrottle admits one attempt at a time past the free failures, once each wait is over", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 5, T0);
  assert.equal(await f.reserve(ALICE, last), 1);
  const { reserved, busy } = await reserveMany(() => f.reserve(ALICE, last + 1), 3);
  assert.equal(reserved.length, 1);
  assert.equal(busy, 2);
  assert.deepEqual(await f.throttle.failed(reserved[0], last + 1), ["account"]);
  assert.equal(await f.reserve(ALICE, last + 1), 2, "the 6th failure earns 2 s");
});

Deno.test("LoginThrottle.succeeded keeps the places of the other attempts in flight", async () => {
  await using f = await setup();
  const { reserved } = await reserveMany(() => f.reserve(ALICE, T0), 3);
  await f.throttle.succeeded(reserved[0], T0);
  const until = T0 + RESERVATION_SECONDS;
  assert.deepEqual(await f.read("account:alice"), {
    failures: 0,
    windowStartAt: T0,
    blockedUntil: 0,
    reservedUntil: [until, until],
  });
  for (const attempt of reserved.slice(1)) await f.throttle.failed(attempt, T0 + 1);
  assert.deepEqual(await f.read("account:alice"), {
    failures: 2,
    windowStartAt: T0 + 1,
    blockedUntil: 0,
  });
  assert.deepEqual(await f.read("address:203.0.113.1"), {
    failures: 2,
    windowStartAt: T0,
    blockedUntil: 0,
  });
});

Deno.test("LoginThrottle lets a reservation lapse after RESERVATION_SECONDS, so attempts whose outcome never came stop holding the account", async () => {
  await using f = await setup();
  // A process reserves five places and dies before reporting any outcome.
  const { reserved } = await reserveMany(() => f.reserve(ALICE, T0), 5);
  assert.equal(reserved.length, 5);
  assert.equal(await f.reserve(ALICE, T0 + RESERVATION_SECONDS - 1), "busy");
  const later = T0 + RESERVATION_SECONDS;
  const next = await f.reserve(ALICE, later) as ReservedAttempt;
  assert.equal(next.budget, "shared");
  const held = {
    failures: 0,
    windowStartAt: T0,
    blockedUntil: 0,
    reservedUntil: [later + RESERVATION_SECONDS],
  };
  assert.deepEqual(await f.read("account:alice"), held, "only the new attempt is in flight");
  assert.deepEqual(await f.read("address:203.0.113.1"), held);
});

Deno.test("LoginThrottle counts a failure reported after its reservation lapsed, and frees no other attempt's place", async () => {
  await using f = await setup();
  const late = await f.reserve(ALICE, T0) as ReservedAttempt;
  const later = T0 + RESERVATION_SECONDS;
  await f.reserve(ALICE, later);
  assert.deepEqual(await f.throttle.failed(late, later + 1), []);
  assert.deepEqual(await f.read("account:alice"), {
    failures: 1,
    windowStartAt: later + 1,
    blockedUntil: 0,
    reservedUntil: [later + RESERVATION_SECONDS],
  });
});

Deno.test("LoginThrottle.withdrawn gives an attempt's place back and counts nothing", async () => {
  await using f = await setup();
  const last = await fail(f, "alice", 2, T0);
  const accountBefore = await f.read("account:alice");
  const addressBefore = await f.read("address:203.0.113.1");
  const reserved = await f.reserve(ALICE, last) as ReservedAttempt;
  await f.throttle.withdrawn(reserved, last);
  assert.deepEqual(await f.read("account:alice"), accountBefore);
  assert.deepEqual(await f.read("address:203.0.113.1"), addressBefore);
});

Deno.test("LoginThrottle makes an attempt with a device token whose places are all in flight wait, not refused, while the account is closed", async () => {
  await using f = await setup({ addressFailuresPerMinute: 1000 });
  const last = await fail(f, "alice", 5, T0);
  const device = { ...ALICE, deviceId: "dev-1" };
  const { reserved, busy } = await reserveMany(() => f.reserve(device, last), 4);
  assert.deepEqual(reserved.map((attempt) => attempt.budget), ["device", "device", "device"]);
  assert.equal(busy, 1, "its own attempts may yet free a place");
  for (const attempt of reserved) await f.throttle.failed(attempt, last);
  assert.equal(await f.reserve(device, last), 1, "spent: the closed account's wait");
});

Deno.test("LoginThrottle.admit waits for the place an outcome reported in this process frees", async () => {
  await using f = await setup();
  const now = unixNow();
  const { reserved } = await reserveMany(() => f.reserve(ALICE, now), 5);
  const waiting = f.throttle.admit(ALICE);
  assert.ok(await pending(waiting, 3 * IN_FLIGHT_POLL_MS), "it waits while all five are in flight");
  const start = performance.now();
  await f.throttle.succeeded(reserved[0]);
  const admitted = await waiting;
  assert.equal(admitted.budget, "shared");
  assert.ok(secondsSince(start) < 2, `admitted ${secondsSince(start)} s after the success`);
  assert.equal((await f.read("account:alice"))?.reservedUntil?.length, 5);
});

Deno.test("LoginThrottle.admit waits for a place freed by another instance, polling the store", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/auth.db`;
  await using a = await setup({}, path);
  await using b = await setup({}, path);
  const now = unixNow();
  const { reserved } = await reserveMany(() => a.reserve(ALICE, now), 5);
  const waiting = b.throttle.admit(ALICE);
  assert.ok(await pending(waiting, 3 * IN_FLIGHT_POLL_MS), "it waits while all five are in flight");
  const start = performance.now();
  await a.throttle.succeeded(reserved[0]);
  assert.equal((await waiting).budget, "shared");
  assert.ok(secondsSince(start) < 2, `admitted ${secondsSince(start)} s after the success`);
  assert.equal((await b.read("account:alice"))?.reservedUntil?.length, 5);
});

Deno.test("LoginThrottle.admit refuses once its wait runs out, claiming no failures and counting nothing", async () => {
  await using f = await setup({ inFlightWaitMs: 400 });
  const now = unixNow();
  await reserveMany(() => f.reserve(ALICE, now), 5);
  const before = await f.read("account:alice");
  const start = performance.now();
  const refusal = await f.throttle.admit(ALICE).then(() => "admitted", refusalOf);
  assert.equal(refusal, "busy");
  assert.ok(secondsSince(start) >= 0.4, `refused after ${secondsSince(start)} s`);
  assert.deepEqual(await f.read("account:alice"), before);
});

Deno.test("LoginThrottle.admit refuses at once when failures closed the account", async () => {
  await using f = await setup({ baseDelaySeconds: 60 });
  const now = unixNow();
  const { reserved } = await reserveMany(() => f.reserve(ALICE, now), 5);
  for (const attempt of reserved) await f.throttle.failed(attempt, now);
  const start = performance.now();
  const refusal = await f.throttle.admit(ALICE).then(() => "admitted", refusalOf);
  assert.ok(typeof refusal === "number" && refusal >= 59, String(refusal));
  assert.ok(
    secondsSince(start) < IN_FLIGHT_POLL_MS / 1000,
    `refused after ${secondsSince(start)} s`,
  );
});

Deno.test("LoginThrottle.admit refuses every waiting attempt at once when the failures in flight close the account", async () => {
  await using f = await setup({ baseDelaySeconds: 60 });
  const now = unixNow();
  const { reserved } = await reserveMany(() => f.reserve(ALICE, now), 5);
  const waiting = Array.from(
    { length: 10 },
    () => f.throttle.admit(ALICE).then(() => "admitted", refusalOf),
  );
  assert.ok(await pending(Promise.race(waiting), 3 * IN_FLIGHT_POLL_MS), "they wait");
  for (const attempt of reserved) await f.throttle.failed(attempt);
  const refusals = await Promise.all(waiting);
  assert.ok(refusals.every((refusal) => typeof refusal === "number"), JSON.stringify(refusals));
  assert.equal((await f.read("account:alice"))?.failures, 5);
});

Deno.test("LoginThrottle.stopWaiting refuses every waiting attempt at once as shutting_down, and every later one that would wait, counting nothing", async () => {
  await using f = await setup();
  const now = unixNow();
  const { reserved } = await reserveMany(() => f.reserve(ALICE, now), 5);
  const stopped = (error: unknown) => {
    if (!(error instanceof AuthFailure) || error.code !== "shutting_down") throw error;
    assert.equal(error.retryAfterSeconds, 1);
    return "shutting_down";
  };
  const waiting = Array.from(
    { length: 6 },
    () => f.throttle.admit(ALICE).then(() => "admitted", stopped),
  );
  assert.ok(await pending(Promise.race(waiting), 3 * IN_FLIGHT_POLL_MS), "they wait");
  const before = await f.read("account:alice");
  const start = performance.now();
  f.throttle.stopWaiting();
  assert.deepEqual(await Promise.all(waiting), Array(6).fill("shutting_down"));
  assert.ok(secondsSince(start) < 1, `refused ${secondsSince(start)} s after the stop`);
  const later = performance.now();
  assert.equal(await f.throttle.admit(ALICE).then(() => "admitted", stopped), "shutting_down");
  assert.ok(secondsSince(later) < IN_FLIGHT_POLL_MS / 1000, "a later attempt does not wait");
  assert.deepEqual(await f.read("account:alice"), before, "nothing counted");
  // Attempts in flight are reported as usual, and a free place is still taken.
  await f.throttle.succeeded(reserved[0]);
  assert.equal((await f.throttle.admit(ALICE)).budget, "shared");
});
