/**
 * @module
 * The cap on what one client address may hold at once in the shared store (pending sign-in
 * steps, pushed requests, device authorizations): under the address's advisory lock, the same for
 * every table, its rows that still hold a place are counted, as _address_caps.ts says, after its
 * expired ones are deleted where they may be. It runs inside the caller's transaction,
 * so the count and the insert that follows are one step on every instance; it never inserts.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { PendingAdmission } from "../sign_in.ts";
import { ADDRESS_CAPS, type AddressCappedTable } from "../_address_caps.ts";
import type { Transaction } from "./connection.ts";
import { ADDRESS_PENDING_LOCK_CLASS } from "./locks.ts";

/**
 * The refusal of a new row of `table` for `record.address` when that address already has
 * `maxPerAddress` live rows at `record.createdAt`, or undefined when it may be added (also
 * without a cap or an address). Takes the address's lock until `tx` ends.
 */
export async function refusalAtCap(
  tx: Transaction,
  table: AddressCappedTable,
  { record, maxPerAddress }: {
    record: { address: string | null; createdAt: UnixSeconds };
    maxPerAddress: number | undefined;
  },
): Promise<PendingAdmission | undefined> {
  const { address } = record;
  if (maxPerAddress === undefined || address === null) return undefined;
  await tx`SELECT pg_advisory_xact_lock(${ADDRESS_PENDING_LOCK_CLASS}, hashtext(${address}))`;
  const { deleteExpired, holdsPlace } = ADDRESS_CAPS[table];
  if (deleteExpired) {
    await tx`
      DELETE FROM ${tx(table)} WHERE address = ${address} AND expires_at <= ${record.createdAt}`;
  }
  const [live] = await tx`
    SELECT count(*)::int AS n, min(expires_at) AS free_at FROM ${tx(table)}
    WHERE address = ${address} AND expires_at > ${record.createdAt} AND ${tx.unsafe(holdsPlace)}`;
  return live.n >= maxPerAddress ? { added: false, freeAt: Number(live.free_at) } : undefined;
}
