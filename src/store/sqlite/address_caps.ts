/**
 * @module
 * The cap on what one client address may hold at once in the embedded store (pending sign-in
 * steps, pushed requests, device authorizations): the address's rows that still hold a place are
 * counted, as _address_caps.ts says, after its expired ones are deleted where they may be.
 * It runs inside the caller's write transaction, so the count and the insert that follows are one
 * step; it never inserts.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { PendingAdmission } from "../sign_in.ts";
import { ADDRESS_CAPS, type AddressCappedTable } from "../_address_caps.ts";
import { change, one } from "./database.ts";

/**
 * The refusal of a new row of `table` for `record.address` when that address already has
 * `maxPerAddress` live rows at `record.createdAt`, or undefined when it may be added (also
 * without a cap or an address). Runs inside the caller's transaction.
 */
export function refusalAtCap(
  db: DatabaseSync,
  table: AddressCappedTable,
  { record, maxPerAddress }: {
    record: { address: string | null; createdAt: UnixSeconds };
    maxPerAddress: number | undefined;
  },
): PendingAdmission | undefined {
  if (maxPerAddress === undefined || record.address === null) return undefined;
  const { deleteExpired, holdsPlace } = ADDRESS_CAPS[table];
  if (deleteExpired) {
    change(
      db,
      `DELETE FROM ${table} WHERE address = ? AND expires_at <= ?`,
      record.address,
      record.createdAt,
    );
  }
  const live = one(
    db,
    `SELECT count(*) AS n, min(expires_at) AS free_at FROM ${table}
     WHERE address = ? AND expires_at > ? AND ${holdsPlace}`,
    record.address,
    record.createdAt,
  )!;
  return Number(live.n) >= maxPerAddress
    ? { added: false, freeAt: Number(live.free_at) }
    : undefined;
}
