/**
 * @module
 * What presenting an authorization code does, decided once for both backends: an unused code
 * valid at `now` is redeemed (marked used), a used one is a replay (its first replay time is
 * kept), an expired one and an unknown hash change nothing. Pure: a backend reads the code's row
 * under a lock and writes what the use says in the same transaction.
 */
import type { UnixSeconds } from "../clock.ts";
import type { AuthorizationCodeRecord, CodeOutcome } from "./sign_in.ts";

/** The answer to a code's use, and the code as it must be stored when the use changed it. */
export interface CodeUse {
  result: CodeOutcome;
  /** The code with its new `usedAt` or `replayedAt`; absent when nothing is to be written. */
  changed?: AuthorizationCodeRecord;
}

/** Decides the use at `now` of the code stored as `record` (undefined when there is none). */
export function planCodeUse(
  record: AuthorizationCodeRecord | undefined,
  now: UnixSeconds,
): CodeUse {
  if (!record) return { result: { outcome: "unknown" } };
  if (record.usedAt !== null) {
    if (record.replayedAt !== null) return { result: { outcome: "reused", record } };
    const replayed = { ...record, replayedAt: now };
    return { result: { outcome: "reused", record: replayed }, changed: replayed };
  }
  if (record.expiresAt <= now) return { result: { outcome: "expired", record } };
  const redeemed = { ...record, usedAt: now };
  return { result: { outcome: "redeemed", record: redeemed }, changed: redeemed };
}
