/**
 * The login throttle at chosen times, one store step at a time, on a SQLite store: an attempt
 * that fails ({@linkcode Fixture.attempt}), one whose outcome is not reported yet
 * ({@linkcode Fixture.reserve}), and refusals told apart by what they claim.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AuthFailure } from "../../src/auth/errors.ts";
import {
  IN_FLIGHT,
  type LoginAttempt,
  LoginThrottle,
  type ReservedAttempt,
  type ThrottleBudget,
  type ThrottleOptions,
} from "../../src/auth/accounts/throttle.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { ThrottleRecord } from "../../src/store/store.ts";

/** The thresholds of these tests: the defaults, with a device budget of 3. */
export const CONFIG: ThrottleOptions = {
  freeFailures: 5,
  baseDelaySeconds: 1,
  maxDelaySeconds: 900,
  resetAfterSeconds: 3600,
  addressFailuresPerMinute: 30,
  deviceFailures: 3,
  inFlightWaitMs: 5000,
};
/** The time the tests start at. */
export const T0 = Date.UTC(2030, 0, 1) / 1000;
/** The words of a refusal after failures. */
export const FAILED_MESSAGE = "Too many failed login attempts; try again later";
/** The words of a refusal because attempts in flight held every place. */
export const IN_FLIGHT_MESSAGE = "Too many login attempts in progress; try again shortly";

/** An attempt that failed: its reservation and the budgets its failure closed. */
export interface Failed {
  reserved: ReservedAttempt;
  closed: ThrottleBudget[];
}

/** What a refused attempt gets: the seconds to wait after failures, or "busy" for attempts in flight. */
export type Refused = number | "busy";

/** A throttle on its own store, and steps on it at chosen times. */
export interface Fixture extends AsyncDisposable {
  store: SqliteStore;
  throttle: LoginThrottle;
  /** Reserves an attempt whose outcome is not reported yet, or says why it was refused. */
  reserve(attempt: LoginAttempt, now: number): Promise<ReservedAttempt | Refused>;
  /** An attempt that fails at `now`, or why it was refused. */
  attempt(attempt: LoginAttempt, now: number): Promise<Failed | Refused>;
  /** The seconds `username` from `address` must wait at `now`; 0 when it may try (nothing is counted). */
  waitOf(username: string, address: string, now: number): Promise<number>;
  /** The state of one throttle key. */
  read(key: string): Promise<ThrottleRecord | undefined>;
}

/** The refusal `error` stands for, checking that its words fit it. */
export function refusalOf(error: unknown): Refused {
  if (!(error instanceof AuthFailure) || error.code !== "throttled") throw error;
  if (error.reason === IN_FLIGHT) {
    assert.equal(error.message, IN_FLIGHT_MESSAGE);
    assert.equal(error.retryAfterSeconds, 1);
    return "busy";
  }
  assert.equal(error.message, FAILED_MESSAGE);
  return error.retryAfterSeconds!;
}

/** A throttle with {@linkcode CONFIG} changed by `config`, on a store at `path`. */
export async function setup(
  config: Partial<ThrottleOptions> = {},
  path = ":memory:",
): Promise<Fixture> {
  const store = await SqliteStore.open(path);
  const throttle = new LoginThrottle(store, { ...CONFIG, ...config });
  const read = (key: string) =>
    store.updateThrottles([key], (current) => ({ writes: {}, result: current.get(key) }));
  const reserve = async (request: LoginAttempt, now: number) => {
    try {
      return await throttle.reserve(request, now);
    } catch (error) {
      return refusalOf(error);
    }
  };
  return {
    store,
    throttle,
    reserve,
    async attempt(request, now) {
      const reserved = await reserve(request, now);
      if (typeof reserved !== "object") return reserved;
      return { reserved, closed: await throttle.failed(reserved, now) };
    },
    read,
    async waitOf(username, address, now) {
      // Looks without counting: a refused reserve counts nothing, an admitted one is undone.
      const before = [await read(`account:${username}`), await read(`address:${address}`)];
      const outcome = await reserve({ username, address }, now);
      assert.notEqual(outcome, "busy", "nothing is in flight");
      if (typeof outcome === "number") return outcome;
      await store.updateThrottles([`account:${username}`, `address:${address}`], () => ({
        writes: {
          [`account:${username}`]: before[0] ?? null,
          [`address:${address}`]: before[1] ?? null,
        },
        result: 0,
      }));
      return 0;
    },
    [Symbol.asyncDispose]: () => store.close(),
  };
}

/**
 * Fails `count` times as `username`, each from its own address, a second apart or, when
 * throttled, as soon as the wait is over; returns the time of the last failure.
 */
export async function fail(
  f: Fixture,
  username: string,
  count: number,
  start: number,
): Promise<number> {
  let now = start;
  for (let i = 0; i < count; i++) {
    let outcome = await f.attempt({ username, address: `198.51.100.${i % 250}` }, now);
    if (typeof outcome === "number") {
      now += outcome;
      outcome = await f.attempt({ username, address: `198.51.100.${i % 250}` }, now);
    }
    assert.equal(typeof outcome, "object", `attempt ${i + 1} was admitted`);
    now += 1;
  }
  return now - 1;
}
