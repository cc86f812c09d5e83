import type { ThrottleConfig } from "../config.ts";
import type { Store, ThrottleRecord } from "../store/store.ts";

const MINUTE_MS = 60_000;

/**
 * Login throttling after OWASP: consecutive failures per account earn an exponentially growing
 * wait, and each client address has a failure budget per minute. State lives in the store.
 *
 * @example
 * ```ts
 * const throttle = new LoginThrottle(store, config.throttle);
 * const wait = await throttle.retryAfter("user1", "203.0.113.7"); // seconds; 0 = go ahead
 * ```
 */
export class LoginThrottle {
  #store: Store;
  #config: ThrottleConfig;

  constructor(store: Store, config: ThrottleConfig) {
    this.#store = store;
    this.#config = config;
  }

  /** Seconds the caller must wait before this login may be tried; 0 when it may go ahead. */
  async retryAfter(username: string, address: string, now = Date.now()): Promise<number> {
    const [account, client] = await Promise.all([
      this.#store.getThrottle(accountKey(username)),
      this.#store.getThrottle(addressKey(address)),
    ]);
    const until = Math.max(account?.blockedUntil ?? 0, client?.blockedUntil ?? 0);
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  /** Counts a failed login against the account and the client address. */
  async recordFailure(username: string, address: string, now = Date.now()): Promise<void> {
    const { freeFailures, baseDelayMs, maxDelayMs, resetAfterMs, addressFailuresPerMinute } =
      this.#config;
    await this.#store.recordFailure(accountKey(username), (current) => {
      const failures = current && now - current.windowStart < resetAfterMs
        ? current.failures + 1
        : 1;
      const excess = failures - freeFailures;
      const delay = excess >= 0 ? Math.min(baseDelayMs * 2 ** excess, maxDelayMs) : 0;
      return { failures, windowStart: now, blockedUntil: delay > 0 ? now + delay : 0 };
    });
    await this.#store.recordFailure(addressKey(address), (current): ThrottleRecord => {
      const fresh = !current || now - current.windowStart >= MINUTE_MS;
      const windowStart = fresh ? now : current.windowStart;
      const failures = fresh ? 1 : current.failures + 1;
      const blockedUntil = failures >= addressFailuresPerMinute ? windowStart + MINUTE_MS : 0;
      return { failures, windowStart, blockedUntil };
    });
  }

  /** Forgets the account's failures after a successful login. */
  async recordSuccess(username: string): Promise<void> {
    await this.#store.clearThrottle(accountKey(username));
  }
}

function accountKey(username: string): string {
  return `account:${username}`;
}

function addressKey(address: string): string {
  return `address:${address}`;
}
