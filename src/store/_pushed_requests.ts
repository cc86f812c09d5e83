/**
 * @module
 * The one decision both backends make about a pushed request that could not be taken: why not,
 * from the row as it is (or none). Pure: it reads no database and no clock.
 */
import type { PushedRequestOutcome } from "./pushed_requests.ts";

/** Why a pushed request was not taken: `row` is its row, if it exists at all. */
export function refusalOf(
  row: { clientId: string; expiresAt: number; usedAt: number | null } | undefined,
  clientId: string,
  now: number,
): Exclude<PushedRequestOutcome, { outcome: "taken" }> {
  if (!row) return { outcome: "unknown" };
  if (row.clientId !== clientId) return { outcome: "other_client" };
  if (row.usedAt !== null) return { outcome: "used" };
  if (row.expiresAt <= now) return { outcome: "expired" };
  // Taken by another caller between the update and this read, then marked used.
  return { outcome: "used" };
}
