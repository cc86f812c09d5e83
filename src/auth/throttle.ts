/**
 * @module
 * Login throttling after OWASP: consecutive failures per account earn an exponentially growing
 * wait, and each client address has a failure budget per minute. State lives in the store, in
 * Unix seconds.
 */
import { HOUR_SECONDS, MINUTE_SECONDS, unixNow, type UnixSeconds } from "../clock.ts";
import type { Store, ThrottleRecord } from "../store/store.ts";

/** Login throttling thresholds. */
export interface ThrottleOptions {
  /** Consecutive failures per account before any wait. */
  freeFailures: number;
  /** First wait after the free failures, doubling with each further failure. */
  baseDelaySeconds: number;
  /** Longest wait for one account. */
  maxDelaySeconds: number;
  /** An account's failure count is forgotten after this long without failures. */
  resetAfterSeconds: number;
  /** Failed logins allowed from one client address per minute. */
  addressFailuresPerMinute: number;
}

/** The thresholds used when none are configured. */
export const DEFAULT_THROTTLE: Readonly<ThrottleOptions> = {
  freeFailures: 5,
  baseDelaySeconds: 1,
  maxDelaySeconds: 15 * MINUTE_SECONDS,
  resetAfterSeconds: HOUR_SECONDS,
  addressFailuresPerMinute: 30,
};

/**
 * Throttles logins by account and by client address.
 *
 * @example
 * ```ts
 * const throttle = new LoginThrottle(store, DEFAULT_THROTTLE);
 * const wait = await throttle.retryAfter("user1", "203.0.113.7"); // seconds; 0 = go ahead
 * ```
 */
export class LoginThrottle {
  #store: Store;
  #options: ThrottleOptions;

  constructor(store: Store, options: ThrottleOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Seconds the caller must wait before this login may be tried; 0 when it may go ahead. */
  async retryAfter(username: string, address: string, now = unixNow()): Promise<number> {
    const [account, client] = await Promise.all([
      this.#store.getThrottle(accountKey(username)),
      this.#store.getThrottle(addressKey(address)),
    ]);
    const until = Math.max(account?.blockedUntil ?? 0, client?.blockedUntil ?? 0);
    return until > now ? until - now : 0;
  }

  /** Counts a failed login against the account and the client address. */
  async recordFailure(username: string, address: string, now = unixNow()): Promise<void> {
    await this.#store.recordFailure(
      accountKey(username),
      (current) => this.#accountFailure(current, now),
    );
    await this.#store.recordFailure(
      addressKey(address),
      (current) => this.#addressFailure(current, now),
    );
  }

  /** Forgets the account's failures after a successful login. */
  async recordSuccess(username: string): Promise<void> {
    await this.#store.clearThrottle(accountKey(username));
  }

  #accountFailure(current: ThrottleRecord | undefined, now: UnixSeconds): ThrottleRecord {
    const { freeFailures, baseDelaySeconds, maxDelaySeconds, resetAfterSeconds } = this.#options;
    const failures = current && now - current.windowStartAt < resetAfterSeconds
      ? current.failures + 1
      : 1;
    const excess = failures - freeFailures;
    const delay = excess >= 0 ? Math.min(baseDelaySeconds * 2 ** excess, maxDelaySeconds) : 0;
    return { failures, windowStartAt: now, blockedUntil: delay > 0 ? now + delay : 0 };
  }

  #addressFailure(current: ThrottleRecord | undefined, now: UnixSeconds): ThrottleRecord {
    const fresh = !current || now - current.windowStartAt >= MINUTE_SECONDS;
    const windowStartAt = fresh ? now : current.windowStartAt;
    const failures = fresh ? 1 : current.failures + 1;
    const blocked = failures >= this.#options.addressFailuresPerMinute;
    return { failures, windowStartAt, blockedUntil: blocked ? windowStartAt + MINUTE_SECONDS : 0 };
  }
}

function accountKey(username: string): string {
  return `account:${username}`;
}

function addressKey(address: string): string {
  return `address:${address}`;
}
