/**
 * @module
 * What both backends do with a throttle decision before storing it: a decision may write only
 * the keys it was given to read, and a record's reservations are stored as JSON text (the
 * `reserved_until` column, read back by _rows.ts).
 */
import type { ThrottleDecision, ThrottleRecord } from "./accounts.ts";

/** The writes of `decision` as entries; throws when one names a key outside `keys`. */
export function throttleWrites(
  keys: readonly string[],
  decision: ThrottleDecision<unknown>,
): [string, ThrottleRecord | null][] {
  const writes = Object.entries(decision.writes);
  for (const [key] of writes) {
    if (!keys.includes(key)) throw new Error(`Throttle key "${key}" was not read first`);
  }
  return writes;
}

/** The `reserved_until` column of `record`: its reservations as JSON text. */
export function reservationsColumn(record: ThrottleRecord): string {
  return JSON.stringify(record.reservedUntil ?? []);
}
