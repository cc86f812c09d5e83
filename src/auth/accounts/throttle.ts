/**
 * @module
 * Login throttling after OWASP, decided in one atomic store step per attempt. Three budgets:
 * failures per account earn an exponentially growing wait (guessing one account); failures per
 * client address are capped per minute (spraying many accounts); failures per device token are
 * capped before the token stops counting (a device that has logged in before keeps trying
 * while the other two are exhausted). An attempt is counted as a failure when it is reserved,
 * before any password is hashed, and a success takes it back. State lives in the store, in Unix
 * seconds. It never hashes and never builds a response.
 */
import { HOUR_SECONDS, MINUTE_SECONDS, unixNow, type UnixSeconds } from "../../clock.ts";
import type { AccountStore, ThrottleDecision, ThrottleRecord } from "../../store/accounts.ts";
import { AuthFailure } from "../errors.ts";

/** Login throttling thresholds. */
export interface ThrottleOptions {
  /** Consecutive failures per account before any wait. */
  freeFailures: number;
  /** First wait after the free failures, doubling with each further failure. */
  baseDelaySeconds: number;
  /** Longest wait for one account. */
  maxDelaySeconds: number;
  /** Failure counts of accounts and devices are forgotten after this long without failures. */
  resetAfterSeconds: number;
  /** Failed logins allowed from one client address (or IPv6 prefix) per minute. */
  addressFailuresPerMinute: number;
  /** Failed logins a device token may have before it stops counting, until `resetAfterSeconds`. */
  deviceFailures: number;
}

/** The thresholds used when none are configured. */
export const DEFAULT_THROTTLE: Readonly<ThrottleOptions> = {
  freeFailures: 5,
  baseDelaySeconds: 1,
  maxDelaySeconds: 15 * MINUTE_SECONDS,
  resetAfterSeconds: HOUR_SECONDS,
  addressFailuresPerMinute: 30,
  deviceFailures: 5,
};

/** Who is trying to log in. */
export interface LoginAttempt {
  username: string;
  /** The client address, or its IPv6 prefix. */
  address: string;
  /** The device of a valid device token for this username, if one was presented. */
  deviceId?: string;
}

/**
 * An attempt the throttle let through, counted as a failure until it is reported a success:
 * on the device's own budget, or on the account's and the address's.
 */
export type ReservedAttempt =
  | {
    budget: "device";
    deviceId: string;
    /** The budgets this attempt puts into a wait if it fails. */
    blocks: ThrottleBudget[];
  }
  | {
    budget: "shared";
    username: string;
    address: string;
    /** The address's counting window this attempt was counted in. */
    addressWindowAt: UnixSeconds;
    /** The budgets this attempt puts into a wait if it fails. */
    blocks: ThrottleBudget[];
  };

/** One of the three budgets. */
export type ThrottleBudget = "account" | "address" | "device";

/**
 * Throttles logins by account, client address and device.
 *
 * @example
 * ```ts
 * const throttle = new LoginThrottle(store, DEFAULT_THROTTLE);
 * const attempt = await throttle.reserve({ username: "user1", address: "203.0.113.7" });
 * // … check the password; on success:
 * await throttle.succeeded(attempt);
 * ```
 */
export class LoginThrottle {
  #store: AccountStore;
  #options: ThrottleOptions;

  constructor(store: AccountStore, options: ThrottleOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * Reserves one attempt, counting it as a failure, or throws AuthFailure `throttled` with the
   * seconds to wait, counting nothing. A valid device token is tried on its own budget first;
   * once that is spent the attempt falls back to the account's and the address's.
   */
  async reserve(attempt: LoginAttempt, now: UnixSeconds = unixNow()): Promise<ReservedAttempt> {
    if (attempt.deviceId !== undefined) {
      const key = deviceKey(attempt.deviceId);
      const reserved = await this.#store.updateThrottles([key], (current) => {
        const next = this.#deviceFailure(current.get(key), now);
        return next ? { writes: { [key]: next }, result: next } : { writes: {}, result: undefined };
      });
      if (reserved) {
        const blocks: ThrottleBudget[] = reserved.blockedUntil > now ? ["device"] : [];
        return { budget: "device", deviceId: attempt.deviceId, blocks };
      }
    }
    const account = accountKey(attempt.username);
    const address = addressKey(attempt.address);
    const outcome = await this.#store.updateThrottles(
      [account, address],
      (current) => this.#sharedAttempt(current, { account, address }, now),
    );
    if ("wait" in outcome) {
      throw new AuthFailure("throttled", "Too many failed login attempts; try again later", {
        retryAfterSeconds: outcome.wait,
      });
    }
    return {
      budget: "shared",
      username: attempt.username,
      address: attempt.address,
      addressWindowAt: outcome.addressWindowAt,
      blocks: outcome.blocks,
    };
  }

  /**
   * Takes back a reserved attempt that succeeded: the device's or the account's failures are
   * forgotten, and the address gets this attempt back.
   */
  async succeeded(attempt: ReservedAttempt): Promise<void> {
    if (attempt.budget === "device") {
      const key = deviceKey(attempt.deviceId);
      await this.#store.updateThrottles([key], () => ({ writes: { [key]: null }, result: 0 }));
      return;
    }
    const account = accountKey(attempt.username);
    const address = addressKey(attempt.address);
    await this.#store.updateThrottles([account, address], (current): ThrottleDecision<0> => {
      const writes: Record<string, ThrottleRecord | null> = { [account]: null };
      const onAddress = current.get(address);
      if (onAddress && onAddress.windowStartAt === attempt.addressWindowAt) {
        writes[address] = onAddress.failures <= 1 ? null : this.#addressRecord(
          onAddress.failures - 1,
          onAddress.windowStartAt,
        );
      }
      return { writes, result: 0 };
    });
  }

  /** Counts an attempt on the account and the address, or neither when either must wait. */
  #sharedAttempt(
    current: ReadonlyMap<string, ThrottleRecord>,
    keys: { account: string; address: string },
    now: UnixSeconds,
  ): ThrottleDecision<
    { wait: number } | { addressWindowAt: UnixSeconds; blocks: ThrottleBudget[] }
  > {
    const onAccount = this.#accountFailure(current.get(keys.account), now);
    const onAddress = this.#addressFailure(current.get(keys.address), now);
    if ("wait" in onAccount || "wait" in onAddress) {
      const waits = [onAccount, onAddress].map((step) => "wait" in step ? step.wait : 0);
      return { writes: {}, result: { wait: Math.max(...waits) } };
    }
    const blocks: ThrottleBudget[] = [];
    if (onAccount.next.blockedUntil > now) blocks.push("account");
    if (onAddress.next.blockedUntil > now) blocks.push("address");
    return {
      writes: { [keys.account]: onAccount.next, [keys.address]: onAddress.next },
      result: { addressWindowAt: onAddress.next.windowStartAt, blocks },
    };
  }

  #accountFailure(current: ThrottleRecord | undefined, now: UnixSeconds): Step {
    if (current && current.blockedUntil > now) return { wait: current.blockedUntil - now };
    const { freeFailures, baseDelaySeconds, maxDelaySeconds, resetAfterSeconds } = this.#options;
    const failures = current && now - current.windowStartAt < resetAfterSeconds
      ? current.failures + 1
      : 1;
    const excess = failures - freeFailures;
    const delay = excess >= 0 ? Math.min(baseDelaySeconds * 2 ** excess, maxDelaySeconds) : 0;
    return { next: { failures, windowStartAt: now, blockedUntil: delay > 0 ? now + delay : 0 } };
  }

  #addressFailure(current: ThrottleRecord | undefined, now: UnixSeconds): Step {
    const fresh = !current || now - current.windowStartAt >= MINUTE_SECONDS;
    if (!fresh && current.blockedUntil > now) return { wait: current.blockedUntil - now };
    return fresh
      ? { next: this.#addressRecord(1, now) }
      : { next: this.#addressRecord(current.failures + 1, current.windowStartAt) };
  }

  #addressRecord(failures: number, windowStartAt: UnixSeconds): ThrottleRecord {
    const blocked = failures >= this.#options.addressFailuresPerMinute;
    return { failures, windowStartAt, blockedUntil: blocked ? windowStartAt + MINUTE_SECONDS : 0 };
  }

  /** The device's state after one more failure, or undefined when its budget is spent. */
  #deviceFailure(
    current: ThrottleRecord | undefined,
    now: UnixSeconds,
  ): ThrottleRecord | undefined {
    const { deviceFailures, resetAfterSeconds } = this.#options;
    const recent = current && now - current.windowStartAt < resetAfterSeconds
      ? current.failures
      : 0;
    if (recent >= deviceFailures) return undefined;
    const failures = recent + 1;
    const spent = failures >= deviceFailures;
    return { failures, windowStartAt: now, blockedUntil: spent ? now + resetAfterSeconds : 0 };
  }
}

/** One budget's answer to an attempt: the state after it, or how long to wait. */
type Step = { next: ThrottleRecord } | { wait: number };

function accountKey(username: string): string {
  return `account:${username}`;
}

function addressKey(address: string): string {
  return `address:${address}`;
}

function deviceKey(deviceId: string): string {
  return `device:${deviceId}`;
}
