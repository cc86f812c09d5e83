/**
 * @module
 * Login throttling after OWASP, decided in one atomic store step per attempt and per outcome.
 * Three budgets (throttle_budgets.ts): failures per account earn an exponentially growing wait
 * (guessing one account); failures per client address are capped per minute (spraying many
 * accounts); failures per device token are capped before the token stops counting (a device
 * that has logged in before keeps trying while the other two are exhausted). An attempt is
 * reserved before any password is hashed and reported afterwards; only failures count, but no
 * more attempts are in flight than failures are left. An attempt that finds every place held by
 * attempts in flight waits for their outcome (woken at once by outcomes reported in this
 * process, polling the store for those of other instances) and is refused only when the wait
 * runs out, with an answer that claims no failures; as the service stops, waits end at once.
 * State lives in the store, in Unix seconds. It never hashes and never builds a response.
 */
import { HOUR_SECONDS, MINUTE_SECONDS, unixNow, type UnixSeconds } from "../../clock.ts";
import type { AccountStore, ThrottleDecision, ThrottleRecord } from "../../store/accounts.ts";
import { AuthFailure } from "../errors.ts";
import {
  AccountBudget,
  AddressBudget,
  type Admission,
  DeviceBudget,
  type ThrottleOptions,
  withdrawn,
} from "./throttle_budgets.ts";

export type { ThrottleOptions } from "./throttle_budgets.ts";

/** The thresholds used when none are configured. */
export const DEFAULT_THROTTLE: Readonly<ThrottleOptions> = {
  freeFailures: 5,
  baseDelaySeconds: 1,
  maxDelaySeconds: 15 * MINUTE_SECONDS,
  resetAfterSeconds: HOUR_SECONDS,
  addressFailuresPerMinute: 30,
  deviceFailures: 5,
  inFlightWaitMs: 20_000,
};

/**
 * How often an attempt waiting for a place looks at the store again (±50 %), for places freed on
 * other instances; outcomes reported in this process wake it at once.
 */
export const IN_FLIGHT_POLL_MS = 200;

/**
 * How long a reservation holds its place when its outcome is never reported (the process died
 * during the check): far longer than a check takes, short enough not to lock anyone out.
 */
export const RESERVATION_SECONDS = 30;

/** The `reason` of a refusal because attempts in flight held every place, not because of failures. */
export const IN_FLIGHT = "in_flight";

/** Who is trying to log in. */
export interface LoginAttempt {
  username: string;
  /** The client address, or its IPv6 prefix. */
  address: string;
  /** The device of a valid device token for this username, if one was presented. */
  deviceId?: string;
}

/**
 * An attempt the throttle let through, holding a place until its outcome is reported: on the
 * device's own budget, or on the account's and the address's.
 */
export type ReservedAttempt =
  | { budget: "device"; deviceId: string; reservedUntil: UnixSeconds }
  | { budget: "shared"; username: string; address: string; reservedUntil: UnixSeconds };

/** One of the three budgets. */
export type ThrottleBudget = "account" | "address" | "device";

/** What one step of admission found. */
type Step = { reserved: ReservedAttempt } | { busy: true } | { wait: number };

/**
 * Throttles logins by account, client address and device.
 *
 * @example
 * ```ts
 * const throttle = new LoginThrottle(store, DEFAULT_THROTTLE);
 * const attempt = await throttle.admit({ username: "user1", address: "203.0.113.7" });
 * // … check the password, then report it:
 * await throttle.succeeded(attempt); // or: const closed = await throttle.failed(attempt);
 * ```
 */
export class LoginThrottle {
  #store: AccountStore;
  #inFlightWaitMs: number;
  #account: AccountBudget;
  #address: AddressBudget;
  #device: DeviceBudget;
  /** Outcomes reported in this process so far, so a waiter sees one it would have missed. */
  #outcomes = 0;
  /** Attempts of this process waiting for a place, oldest first, by the keys they wait on. */
  #waiters = new Map<string, Set<() => void>>();
  /** Set once the service stops: no attempt waits for a place any longer. */
  #stopping = false;

  constructor(store: AccountStore, options: ThrottleOptions) {
    this.#store = store;
    this.#inFlightWaitMs = options.inFlightWaitMs;
    this.#account = new AccountBudget(options);
    this.#address = new AddressBudget(options);
    this.#device = new DeviceBudget(options);
  }

  /**
   * Reserves a place for one attempt, waiting up to `inFlightWaitMs` while attempts in flight hold
   * every place. Throws AuthFailure `throttled` with the seconds to wait when failures closed a
   * budget, or with reason {@linkcode IN_FLIGHT} when the wait ran out; either counts nothing.
   * Once {@linkcode LoginThrottle.stopWaiting} was called, an attempt that would wait throws
   * `shutting_down` instead.
   */
  async admit(attempt: LoginAttempt): Promise<ReservedAttempt> {
    const deadline = performance.now() + this.#inFlightWaitMs;
    for (;;) {
      const seen = this.#outcomes;
      const step = await this.#step(attempt, unixNow());
      if ("reserved" in step) return step.reserved;
      if ("wait" in step) throw failedTooOften(step.wait);
      if (this.#stopping) throw shuttingDown();
      const left = deadline - performance.now();
      if (left <= 0) throw inFlight();
      const poll = IN_FLIGHT_POLL_MS * (0.5 + Math.random());
      await this.#pause(keysOf(attempt), seen, Math.min(left, poll));
    }
  }

  /**
   * Ends every wait for a place, now and from then on, as the service stops: attempts waiting
   * for one are woken, and each that finds no place free is refused `shutting_down` (to be
   * sent again elsewhere) rather than outlast the shutdown. Attempts being checked go on.
   */
  stopWaiting(): void {
    this.#stopping = true;
    for (const waiting of [...this.#waiters.values()]) {
      for (const wake of [...waiting]) wake();
    }
  }

  /**
   * One step of {@linkcode LoginThrottle.admit} at `now`, without waiting: a valid device token
   * is tried on its own budget first; once that is spent the attempt falls back to the
   * account's and the address's.
   */
  async reserve(attempt: LoginAttempt, now: UnixSeconds = unixNow()): Promise<ReservedAttempt> {
    const step = await this.#step(attempt, now);
    if ("reserved" in step) return step.reserved;
    throw "wait" in step ? failedTooOften(step.wait) : inFlight();
  }

  /**
   * Counts a reserved attempt as a failure on the budgets it held; returns those this failure
   * closed (that now make attempts wait).
   */
  async failed(attempt: ReservedAttempt, now: UnixSeconds = unixNow()): Promise<ThrottleBudget[]> {
    const held = this.#held(attempt);
    const closed = await this.#store.updateThrottles(held.map(({ key }) => key), (current) => {
      const writes: Record<string, ThrottleRecord | null> = {};
      const closed: ThrottleBudget[] = [];
      for (const { budget, rule, key } of held) {
        const settled = rule.failed(current.get(key), now, attempt.reservedUntil);
        writes[key] = settled.next;
        if (settled.closed) closed.push(budget);
      }
      return { writes, result: closed };
    });
    this.#reported(held.map(({ key }) => key), closed.length > 0);
    return closed;
  }

  /**
   * Reports a reserved attempt a success: the device's or the account's failures are
   * forgotten, and the address gets its place back.
   */
  async succeeded(attempt: ReservedAttempt, now: UnixSeconds = unixNow()): Promise<void> {
    await this.#release(
      attempt,
      (rule, current) => rule.succeeded(current, now, attempt.reservedUntil),
    );
  }

  /**
   * Gives back the place of a reserved attempt whose check never came to an answer (it broke
   * off with an error), counting nothing.
   */
  async withdrawn(attempt: ReservedAttempt, now: UnixSeconds = unixNow()): Promise<void> {
    await this.#release(attempt, (_, current) => withdrawn(current, now, attempt.reservedUntil));
  }

  async #step(attempt: LoginAttempt, now: UnixSeconds): Promise<Step> {
    const reservedUntil = now + RESERVATION_SECONDS;
    let deviceBusy = false;
    if (attempt.deviceId !== undefined) {
      const { deviceId } = attempt;
      const key = deviceKey(deviceId);
      const admission = await this.#store.updateThrottles([key], (
        current,
      ): ThrottleDecision<Admission | { spent: true }> => {
        const onDevice = this.#device.admit(current.get(key), now, reservedUntil);
        return "next" in onDevice
          ? { writes: { [key]: onDevice.next }, result: onDevice }
          : { writes: {}, result: onDevice };
      });
      if ("next" in admission) return { reserved: { budget: "device", deviceId, reservedUntil } };
      deviceBusy = "busy" in admission;
    }
    const account = accountKey(attempt.username);
    const address = addressKey(attempt.address);
    const shared = await this.#store.updateThrottles(
      [account, address],
      (current): ThrottleDecision<Step> => {
        const steps = [
          this.#account.admit(current.get(account), now, reservedUntil),
          this.#address.admit(current.get(address), now, reservedUntil),
        ];
        const refusal = refusalOf(steps);
        if (refusal) return { writes: {}, result: refusal };
        const [onAccount, onAddress] = steps as { next: ThrottleRecord }[];
        return {
          writes: { [account]: onAccount.next, [address]: onAddress.next },
          result: {
            reserved: {
              budget: "shared",
              username: attempt.username,
              address: attempt.address,
              reservedUntil,
            },
          },
        };
      },
    );
    // The device's own attempts in flight may yet free a place on its budget.
    return deviceBusy && "wait" in shared ? { busy: true } : shared;
  }

  /** The budgets a reserved attempt holds places on, with their keys. */
  #held(attempt: ReservedAttempt): Held[] {
    return attempt.budget === "device"
      ? [{ budget: "device", rule: this.#device, key: deviceKey(attempt.deviceId) }]
      : [
        { budget: "account", rule: this.#account, key: accountKey(attempt.username) },
        { budget: "address", rule: this.#address, key: addressKey(attempt.address) },
      ];
  }

  /** Writes what `next` makes of each budget `attempt` held, in one store step, and wakes a waiter. */
  async #release(
    attempt: ReservedAttempt,
    next: (rule: Held["rule"], current: ThrottleRecord | undefined) => ThrottleRecord | null,
  ): Promise<void> {
    const held = this.#held(attempt);
    await this.#store.updateThrottles(held.map(({ key }) => key), (current) => ({
      writes: Object.fromEntries(held.map(({ rule, key }) => [key, next(rule, current.get(key))])),
      result: undefined,
    }));
    this.#reported(held.map(({ key }) => key), false);
  }

  /**
   * Wakes attempts waiting on `keys` after an outcome was reported there: the oldest on each,
   * which may take the place it freed, or all of them when a budget closed, so that they are
   * refused at once.
   */
  #reported(keys: string[], closed: boolean): void {
    this.#outcomes++;
    for (const key of keys) {
      const waiting = [...this.#waiters.get(key) ?? []];
      for (const wake of closed ? waiting : waiting.slice(0, 1)) wake();
    }
  }

  /**
   * Resolves after `ms`, or earlier when an outcome is reported on one of `keys`; at once when
   * any was reported since `seen`.
   */
  #pause(keys: string[], seen: number, ms: number): Promise<void> {
    if (this.#outcomes !== seen) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        for (const key of keys) {
          const waiting = this.#waiters.get(key);
          waiting?.delete(wake);
          if (waiting?.size === 0) this.#waiters.delete(key);
        }
        resolve();
      };
      const timer = setTimeout(wake, ms);
      for (const key of keys) {
        const waiting = this.#waiters.get(key) ?? new Set();
        this.#waiters.set(key, waiting.add(wake));
      }
    });
  }
}

/** A budget a reserved attempt holds a place on. */
interface Held {
  budget: ThrottleBudget;
  rule: AccountBudget | AddressBudget | DeviceBudget;
  key: string;
}

/**
 * What refuses an attempt, or undefined when every budget admits it: the longest wait a budget
 * closed by failures imposes, else `busy` when one is full of attempts in flight.
 */
function refusalOf(steps: Admission[]): Step | undefined {
  const waits = steps.map((step) => "wait" in step ? step.wait : 0);
  if (waits.some((wait) => wait > 0)) return { wait: Math.max(...waits) };
  return steps.some((step) => "busy" in step) ? { busy: true } : undefined;
}

function failedTooOften(wait: number): AuthFailure {
  return new AuthFailure("throttled", "Too many failed login attempts; try again later", {
    retryAfterSeconds: wait,
  });
}

function inFlight(): AuthFailure {
  return new AuthFailure("throttled", "Too many login attempts in progress; try again shortly", {
    retryAfterSeconds: 1,
    reason: IN_FLIGHT,
  });
}

function shuttingDown(): AuthFailure {
  return new AuthFailure("shutting_down", "Service is shutting down; try again", {
    retryAfterSeconds: 1,
  });
}

/** Every key an attempt may take a place on. */
function keysOf(attempt: LoginAttempt): string[] {
  const keys = [accountKey(attempt.username), addressKey(attempt.address)];
  return attempt.deviceId === undefined ? keys : [deviceKey(attempt.deviceId), ...keys];
}

function accountKey(username: string): string {
  return `account:${username}`;
}

function addressKey(address: string): string {
  return `address:${address}`;
}

function deviceKey(deviceId: string): string {
  return `device:${deviceId}`;
}
