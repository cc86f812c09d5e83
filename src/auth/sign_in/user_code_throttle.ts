/**
 * @module
 * The throttle of the device page against user-code guessing: each client address (group) may
 * look up a few user codes per minute. A look-up takes its place before the store is asked, in
 * one atomic store step, so parallel guesses cannot pass the limit together, also across
 * instances; a right code gives its place back. State lives in the store's throttle entries
 * (pruned with them). It never looks a code up itself.
 */
import { MINUTE_SECONDS, type UnixSeconds } from "../../clock.ts";
import type { AccountStore, ThrottleRecord } from "../../store/accounts.ts";
import { AuthFailure } from "../errors.ts";

/** Wrong user codes one address may enter per minute. */
export const USER_CODE_GUESSES_PER_MINUTE = 5;

/** The `reason` of a refusal by this throttle, for the audit trail. */
export const USER_CODE_THROTTLED = "user_code_throttled";

/**
 * Per-address budget of user-code look-ups.
 *
 * @example
 * ```ts
 * await throttle.admit(address, now); // throws `throttled` when the minute's look-ups are spent
 * if (found) await throttle.giveBack(address, now);
 * ```
 */
export class UserCodeThrottle {
  #store: Pick<AccountStore, "updateThrottles">;
  #perMinute: number;

  constructor(
    store: Pick<AccountStore, "updateThrottles">,
    perMinute: number = USER_CODE_GUESSES_PER_MINUTE,
  ) {
    this.#store = store;
    this.#perMinute = perMinute;
  }

  /** Takes a look-up's place for `address`; `throttled` with the wait when none is left. */
  async admit(address: string, now: UnixSeconds): Promise<void> {
    const key = keyOf(address);
    const waitSeconds = await this.#store.updateThrottles([key], (current) => {
      const window = currentWindow(current.get(key), now);
      if (window.failures >= this.#perMinute) {
        return { writes: {}, result: window.windowStartAt + MINUTE_SECONDS - now };
      }
      const next = { ...window, failures: window.failures + 1 };
      return { writes: { [key]: next }, result: 0 };
    });
    if (waitSeconds > 0) {
      throw new AuthFailure(
        "throttled",
        `Too many wrong codes from your network; try again in ${waitSeconds} seconds`,
        { retryAfterSeconds: waitSeconds, reason: USER_CODE_THROTTLED },
      );
    }
  }

  /** Gives back the place of a look-up that found its code. */
  async giveBack(address: string, now: UnixSeconds): Promise<void> {
    const key = keyOf(address);
    await this.#store.updateThrottles([key], (current) => {
      const window = currentWindow(current.get(key), now);
      return {
        writes: { [key]: { ...window, failures: Math.max(0, window.failures - 1) } },
        result: 0,
      };
    });
  }
}

/** The address's minute: the stored one while it lasts, else a new one from `now`. */
function currentWindow(record: ThrottleRecord | undefined, now: UnixSeconds): ThrottleRecord {
  if (record && now - record.windowStartAt < MINUTE_SECONDS) return record;
  return { failures: 0, windowStartAt: now, blockedUntil: 0 };
}

function keyOf(address: string): string {
  return `user_code:${address}`;
}
