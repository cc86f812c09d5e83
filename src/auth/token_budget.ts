/**
 * @module
 * The invalid-token budget: how many access tokens that fail verification a client address may
 * present per minute before its next uncached token is refused without a signature check. It
 * lives in memory, per instance, in a map of bounded size; it never reads a request or the store.
 */
import { MINUTE_SECONDS, unixNow, type UnixSeconds } from "../clock.ts";
import { AuthFailure } from "./errors.ts";

/** Settings of the invalid-token budget. */
export interface TokenBudgetOptions {
  /** Invalid tokens one address group may present per minute. */
  perMinute: number;
  /** Most address groups tracked at once; the one whose window began first is forgotten first. */
  maxTrackedAddresses: number;
  /** The group an address is counted in; {@linkcode addressGroup} by default. */
  groupOf?: (address: string) => string;
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
  #groupOf: (address: string) => string;
  /** Insertion order is window start order: a new window is always inserted last. */
  #windows = new Map<string, Window>();

  constructor(options: TokenBudgetOptions) {
    this.options = options;
    this.#groupOf = options.groupOf ?? addressGroup;
  }

  /**
   * Charges one token about to be checked to `address`'s group and returns the refund to call
   * if it proves valid; throws AuthFailure("throttled") with the seconds left, charging nothing,
   * when the group has spent its budget.
   */
  take(address: string, now: UnixSeconds = unixNow()): () => void {
    const group = this.#groupOf(address);
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

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The group a client address is budgeted in: an IPv4 address is its own group (also when written
 * IPv4-mapped, `::ffff:192.0.2.1`); an IPv6 address counts with its /64, the prefix one host or
 * one customer's network is usually given. Anything else is its own group.
 *
 * @example
 * ```ts
 * addressGroup("2001:db8:1:2:aaaa::1"); // "2001:db8:1:2::/64"
 * ```
 */
export function addressGroup(address: string): string {
  if (!address.includes(":")) return address;
  const hextets = expandIpv6(address);
  if (!hextets) return address;
  const mapped = IPV4_MAPPED.exec(address);
  if (mapped) return mapped[1];
  return `${hextets.slice(0, 4).join(":")}::/64`;
}

/** The eight hextets of an IPv6 address (lower case, no leading zeros), or undefined. */
function expandIpv6(address: string): string[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  const embedded = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (embedded) {
    const [a, b, c, d] = embedded.slice(1).map(Number);
    if ([a, b, c, d].some((part) => part > 255)) return undefined;
    const tail = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    text = text.slice(0, embedded.index) + tail;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const hextets = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!hextets.every((part) => /^[0-9a-f]{1,4}$/.test(part))) return undefined;
  return hextets.map((part) => parseInt(part, 16).toString(16));
}
