/**
 * @module
 * The one clock of the domain. Every time that is stored or passed between services is a whole
 * number of seconds since the Unix epoch ({@linkcode UnixSeconds}, fields named `…At`), and every
 * duration of the domain is in seconds (named `…Seconds`). Only timers of the process itself
 * (`setTimeout`, `setInterval`) take milliseconds, and their names end in `Ms`.
 * This module reads the system clock and nothing else.
 */

/** A moment as whole seconds since the Unix epoch. */
export type UnixSeconds = number;

/** Seconds in a minute. */
export const MINUTE_SECONDS = 60;
/** Seconds in an hour. */
export const HOUR_SECONDS = 60 * MINUTE_SECONDS;
/** Seconds in a day. */
export const DAY_SECONDS = 24 * HOUR_SECONDS;

/** The current time in Unix seconds. */
export function unixNow(): UnixSeconds {
  return Math.floor(Date.now() / 1000);
}

/** A Unix time as an ISO 8601 string, for messages and logs. */
export function isoTime(at: UnixSeconds): string {
  return new Date(at * 1000).toISOString();
}
