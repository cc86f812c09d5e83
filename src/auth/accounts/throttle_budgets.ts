/**
 * @module
 * The three budgets of the login throttle as pure steps on their stored records: whether one
 * more attempt may start now (and the record with its reservation), and the record once that
 * attempt is reported a failure or a success. Failures and attempts in flight are kept apart: an
 * attempt counts as a failure only once it failed, but no more attempts are in flight than there
 * are failures left before a wait, so that however many arrive together no more passwords are
 * checked than the budget allows. A reservation lapses at its `reservedUntil`, so that attempts
 * of a process that died mid-check stop holding places. These steps never read the clock or the
 * store.
 */
import { MINUTE_SECONDS, type UnixSeconds } from "../../clock.ts";
import type { ThrottleRecord } from "../../store/store.ts";

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
  /**
   * The longest an attempt waits for a place while attempts in flight hold every one, before it
   * is refused (a timer of the process, hence milliseconds).
   */
  inFlightWaitMs: number;
}

/**
 * A budget's answer to one more attempt: admitted (the record holding its reservation), full
 * for now (`busy`: attempts in flight hold every place, and their outcome may free one), or
 * closed for `wait` seconds because of failures that happened.
 */
export type Admission = { next: ThrottleRecord } | { busy: true } | { wait: number };

/** A budget's record after a reported outcome: null when it holds nothing worth keeping. */
export interface Settled {
  next: ThrottleRecord | null;
  /** True when this failure closed the budget (it now makes attempts wait). */
  closed: boolean;
}

/** A budget's stored record, undefined where the store has none. */
type Current = ThrottleRecord | undefined;

/** What every budget is built on: the throttle's thresholds. */
abstract class Budget {
  protected readonly options: ThrottleOptions;

  constructor(options: ThrottleOptions) {
    this.options = options;
  }
}

/** The reservations of `record` that have not lapsed at `now`. */
function liveReservations(record: Current, now: UnixSeconds): UnixSeconds[] {
  return (record?.reservedUntil ?? []).filter((until) => until > now);
}

/**
 * The live reservations of `record` without the one that lapses at `reservedUntil`: reservations
 * made in the same second are alike, and one that lapsed is already gone.
 */
function othersThan(
  record: Current,
  reservedUntil: UnixSeconds,
  now: UnixSeconds,
): UnixSeconds[] {
  const live = liveReservations(record, now);
  const own = live.indexOf(reservedUntil);
  return own < 0 ? live : [...live.slice(0, own), ...live.slice(own + 1)];
}

/** `fields` with `reservedUntil` only when there are reservations, as the store gives them. */
function withReservations(
  fields: Omit<ThrottleRecord, "reservedUntil">,
  reservedUntil: UnixSeconds[],
): ThrottleRecord {
  return reservedUntil.length > 0 ? { ...fields, reservedUntil } : { ...fields };
}

/** The budget of failures per account: free ones, then an exponentially growing wait. */
export class AccountBudget extends Budget {
  /**
   * Admits an attempt while fewer are in flight than failures are left before a wait; past the
   * free failures, one at a time once each wait is over.
   */
  admit(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): Admission {
    if (current && current.blockedUntil > now) return { wait: current.blockedUntil - now };
    const { failures, windowStartAt } = windowAt(current, now, this.options.resetAfterSeconds);
    const inFlight = liveReservations(current, now);
    if (inFlight.length >= Math.max(this.options.freeFailures - failures, 1)) {
      return { busy: true };
    }
    return {
      next: withReservations({ failures, windowStartAt, blockedUntil: 0 }, [
        ...inFlight,
        reservedUntil,
      ]),
    };
  }

  /** Counts a failure; past the free failures it starts the next wait. */
  failed(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): Settled {
    const { freeFailures, baseDelaySeconds, maxDelaySeconds } = this.options;
    const failures = windowAt(current, now, this.options.resetAfterSeconds).failures + 1;
    const excess = failures - freeFailures;
    const delay = excess >= 0 ? Math.min(baseDelaySeconds * 2 ** excess, maxDelaySeconds) : 0;
    const blockedUntil = Math.max(delay > 0 ? now + delay : 0, stillBlocked(current, now));
    return {
      next: withReservations(
        { failures, windowStartAt: now, blockedUntil },
        othersThan(current, reservedUntil, now),
      ),
      closed: delay > 0,
    };
  }

  /** Forgets the account's failures; the other attempts in flight keep their places. */
  succeeded(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): ThrottleRecord | null {
    return forgotten(current, now, reservedUntil);
  }
}

/** The budget of failures per client address: a number per minute, then a wait for the next. */
export class AddressBudget extends Budget {
  /** Admits an attempt while the minute's failures and those in flight stay under the budget. */
  admit(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): Admission {
    const window = windowAt(current, now, MINUTE_SECONDS);
    if (window.blockedUntil > now) return { wait: window.blockedUntil - now };
    const { addressFailuresPerMinute } = this.options;
    // Closed until the minute ends, also where the budget was lowered since the failures.
    const windowEndAt = window.windowStartAt + MINUTE_SECONDS;
    if (window.failures >= addressFailuresPerMinute) return { wait: windowEndAt - now };
    const inFlight = liveReservations(current, now);
    if (window.failures + inFlight.length >= addressFailuresPerMinute) return { busy: true };
    return { next: withReservations(window, [...inFlight, reservedUntil]) };
  }

  /** Counts a failure in the current minute; the last one the budget allows closes it. */
  failed(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): Settled {
    const window = windowAt(current, now, MINUTE_SECONDS);
    const failures = window.failures + 1;
    const closed = failures >= this.options.addressFailuresPerMinute;
    return {
      next: withReservations(
        {
          failures,
          windowStartAt: window.windowStartAt,
          blockedUntil: closed ? window.windowStartAt + MINUTE_SECONDS : 0,
        },
        othersThan(current, reservedUntil, now),
      ),
      closed,
    };
  }

  /** Gives the attempt's place back; the minute's failures stay. */
  succeeded(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): ThrottleRecord | null {
    return released(windowAt(current, now, MINUTE_SECONDS), current, now, reservedUntil);
  }
}

/**
 * The budget of failures per device token: a number of failures, after which the device stops
 * counting (`spent`) and its attempts fall back to the account's and the address's budgets.
 */
export class DeviceBudget extends Budget {
  /** Admits an attempt while the device's failures and those in flight stay under its budget. */
  admit(
    current: Current,
    now: UnixSeconds,
    reservedUntil: UnixSeconds,
  ): Admission | { spent: true } {
    const { failures, windowStartAt, blockedUntil } = windowAt(
      current,
      now,
      this.options.resetAfterSeconds,
    );
    if (failures >= this.options.deviceFailures) return { spent: true };
    const inFlight = liveReservations(current, now);
    if (failures + inFlight.length >= this.options.deviceFailures) return { busy: true };
    return {
      next: withReservations({ failures, windowStartAt, blockedUntil }, [
        ...inFlight,
        reservedUntil,
      ]),
    };
  }

  /** Counts a failure; the last one the budget allows spends it until `resetAfterSeconds`. */
  failed(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): Settled {
    const failures = windowAt(current, now, this.options.resetAfterSeconds).failures + 1;
    const closed = failures >= this.options.deviceFailures;
    return {
      next: withReservations(
        {
          failures,
          windowStartAt: now,
          blockedUntil: closed ? now + this.options.resetAfterSeconds : 0,
        },
        othersThan(current, reservedUntil, now),
      ),
      closed,
    };
  }

  /** Forgets the device's failures; the other attempts in flight keep their places. */
  succeeded(current: Current, now: UnixSeconds, reservedUntil: UnixSeconds): ThrottleRecord | null {
    return forgotten(current, now, reservedUntil);
  }
}

/**
 * The counting window of `current` at `now`: its failures, their start and its wait while the
 * window lasts (`windowSeconds` from its start), else a new window from `now` with none.
 */
function windowAt(
  current: Current,
  now: UnixSeconds,
  windowSeconds: number,
): Omit<ThrottleRecord, "reservedUntil"> {
  return current && now - current.windowStartAt < windowSeconds
    ? {
      failures: current.failures,
      windowStartAt: current.windowStartAt,
      blockedUntil: current.blockedUntil,
    }
    : { failures: 0, windowStartAt: now, blockedUntil: 0 };
}

/** A record with no failures left, where the other attempts in flight keep their places. */
function forgotten(
  current: Current,
  now: UnixSeconds,
  reservedUntil: UnixSeconds,
): ThrottleRecord | null {
  return released(
    { failures: 0, windowStartAt: now, blockedUntil: 0 },
    current,
    now,
    reservedUntil,
  );
}

/** `current` without the reservation of an attempt that counts for nothing. */
export function withdrawn(
  current: Current,
  now: UnixSeconds,
  reservedUntil: UnixSeconds,
): ThrottleRecord | null {
  if (!current) return null;
  const { failures, windowStartAt, blockedUntil } = current;
  return released({ failures, windowStartAt, blockedUntil }, current, now, reservedUntil);
}

/**
 * `fields` with the other attempts still in flight, or null when that holds nothing: no
 * failure, no wait and no attempt in flight.
 */
function released(
  fields: Omit<ThrottleRecord, "reservedUntil">,
  current: Current,
  now: UnixSeconds,
  reservedUntil: UnixSeconds,
): ThrottleRecord | null {
  const others = othersThan(current, reservedUntil, now);
  const empty = fields.failures === 0 && fields.blockedUntil <= now && others.length === 0;
  return empty ? null : withReservations(fields, others);
}

/** The wait `current` still imposes at `now`, as a time; 0 when none. */
function stillBlocked(current: Current, now: UnixSeconds): UnixSeconds {
  return current && current.blockedUntil > now ? current.blockedUntil : 0;
}
