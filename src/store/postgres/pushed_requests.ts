/**
 * @module
 * The pushed-requests part of the shared store: authorization requests pushed by clients
 * (RFC 9126), counted against their address's cap under the address's advisory lock, taken once
 * by one conditional update, which PostgreSQL's row lock makes atomic across every instance; why
 * one was not taken is decided by _pushed_requests.ts.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { PushedRequestStore } from "../pushed_requests.ts";
import { refusalOf } from "../_pushed_requests.ts";
import * as records from "../_rows.ts";
import { refusalAtCap } from "./address_caps.ts";
import { run, type Sql, type Transaction, transaction } from "./connection.ts";

/** The pushed-requests part on the pool `sql`. */
export function createPushedRequestStore(sql: Sql): PushedRequestStore {
  return {
    addPushedRequest(record, maxPerAddress) {
      return transaction(sql, async (tx) => {
        const refusal = await refusalAtCap(tx, "pushed_requests", { record, maxPerAddress });
        if (refusal) return refusal;
        await tx`
          INSERT INTO pushed_requests (id_hash, client_id, parameters, address, created_at,
            expires_at, used_at)
          VALUES (${record.idHash}, ${record.clientId}, ${record.parameters}, ${record.address},
            ${record.createdAt}, ${record.expiresAt}, ${record.usedAt})`;
        return { added: true };
      });
    },

    takePushedRequest(idHash, clientId, now) {
      return run(async () => {
        const [taken] = await sql`
          UPDATE pushed_requests SET used_at = ${now}
          WHERE id_hash = ${idHash} AND client_id = ${clientId} AND used_at IS NULL
            AND expires_at > ${now}
          RETURNING *`;
        if (taken) return { outcome: "taken" as const, record: records.toPushedRequest(taken) };
        const [row] = await sql`SELECT * FROM pushed_requests WHERE id_hash = ${idHash}`;
        return refusalOf(row && records.toPushedRequest(row), clientId, now);
      });
    },
  };
}

/** Deletes the pushed requests expired by `now`, used or not. */
export async function prunePushedRequests(tx: Transaction, now: UnixSeconds): Promise<void> {
  await tx`DELETE FROM pushed_requests WHERE expires_at <= ${now}`;
}
