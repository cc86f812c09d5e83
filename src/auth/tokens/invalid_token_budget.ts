/**
 * @module
 * The invalid-token budget: how many access tokens that fail verification a client address may
 * present per minute before its next uncached token is refused without a signature check. It
 * lives in memory, per instance, in a map of bounded size; it never reads a request or the store.
 */
import { MINUTE_SECONDS, unixNow, type UnixSeconds } from "../../clock.ts";
import { AuthFailure } from "../errors.ts";

/** Settings of the invalid-token budget. */
export interface TokenBudgetOptions {
  /** Invalid tokens one address group may present per minute. */
  perMinute: number;
  /** Most address groups tracked at once; the one whose window began first is forgotten first. */
  maxTrackedAddresses: number;
}

/** `INVALID_TOKEN_BUDGET_PER_MINUTE` when unset. */
export const DEFAULT_INVALID_TOKENS_PER_MINUTE = 30;
/** Address groups tracked at once (about 100 bytes each). */
export const DEFAULT_MAX_TRACKED_ADDRESSES = 10_000;

interface Window {
  startAt: UnixSeconds;
  failures: number;
  /** The last refusal thrown, reused while its Retry-After holds: a new error costs ~8 µs. */
  refusal?: AuthFailure;
}

/**
 * Counts invalid tokens per address group in one-minute windows. A token is charged before it is
 * checked and refunded when it proves valid, so however many requests race, no more than the
 * budget of checks per group and minute can fail; once a group has spent its budget,
 * {@linkcode InvalidTokenBudget.take} throws `throttled` until its window ends.
 *
 * @example
 * ```ts
 * const budget = new InvalidTokenBudget({ perMinute: 30, maxTrackedAddresses: 10_000 });
 * const refund = budget.take("203.0.113.7"); // throws AuthFailure("throttled") once spent
 * if (await isValid(token)) refund();
 * ```
 */
export class InvalidTokenBudget {
  readonly options: Readonly<TokenBudgetOptions>;
  /** Insertion order is window start order: a new window is always inserted last. */
  #windows = new Map<string, Window>();

  constructor(options: TokenBudgetOptions) {
    this.options = options;
  }

  /**
   * Charges one token about to be checked to an address group (the address, or its IPv6 prefix,
   * as the edge resolves it) and returns the refund to call if it proves valid; throws
   * AuthFailure("throttled") with the seconds left, charging nothing, when the group has spent
   * its budget.
   */
  take(group: string, now: UnixSeconds = unixNow()): () => void {
    let window = this.#windows.get(group);
    if (window && now - window.startAt < MINUTE_SECONDS) {
      if (window.failures >= this.options.perMinute) {
        const retryAfterSeconds = window.startAt + MINUTE_SECONDS - now;
        if (window.refusal?.retryAfterSeconds !== retryAfterSeconds) {
          window.refusal = refusal(retryAfterSeconds);
        }
        throw window.refusal;
      }
      window.failures++;
    } else {
      if (window) this.#windows.delete(group);
      else if (this.#windows.size >= this.options.maxTrackedAddresses) {
        this.#windows.delete(this.#windows.keys().next().value!);
      }
      window = { startAt: now, failures: 1 };
      this.#windows.set(group, window);
    }
    const charged = window;
    return () => charged.failures--;
  }

  /** Number of address groups tracked now. */
  get trackedCount(): number {
    return this.#windows.size;
  }
}

function refusal(retryAfterSeconds: number): AuthFailure {
  return new AuthFailure("throttled", "Too many invalid tokens; try again later", {
    retryAfterSeconds,
  });
}
