/**
 * @module
 * The pushed-requests part of the embedded store: authorization requests pushed by clients
 * (RFC 9126), counted against their address's cap inside the write lock, taken once by one
 * conditional update; why one was not taken is decided by _pushed_requests.ts.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { PushedRequestStore } from "../pushed_requests.ts";
import { refusalOf } from "../_pushed_requests.ts";
import * as records from "../_rows.ts";
import { refusalAtCap } from "./address_caps.ts";
import { change, one, run, transaction } from "./database.ts";

/** The pushed-requests part on `db`. */
export function createPushedRequestStore(db: DatabaseSync): PushedRequestStore {
  return {
    addPushedRequest(record, maxPerAddress) {
      return transaction(db, () => {
        const refusal = refusalAtCap(db, "pushed_requests", { record, maxPerAddress });
        if (refusal) return refusal;
        change(
          db,
          `INSERT INTO pushed_requests (id_hash, client_id, parameters, address, created_at,
           expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          record.idHash,
          record.clientId,
          record.parameters,
          record.address,
          record.createdAt,
          record.expiresAt,
          record.usedAt,
        );
        return { added: true };
      });
    },

    takePushedRequest(idHash, clientId, now) {
      return run(() => {
        const taken = one(
          db,
          `UPDATE pushed_requests SET used_at = ?
           WHERE id_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?
           RETURNING *`,
          now,
          idHash,
          clientId,
          now,
        );
        if (taken) return { outcome: "taken", record: records.toPushedRequest(taken) };
        const row = one(db, "SELECT * FROM pushed_requests WHERE id_hash = ?", idHash);
        return refusalOf(row && records.toPushedRequest(row), clientId, now);
      });
    },
  };
}

/** Deletes the pushed requests expired by `now`, used or not. */
export function prunePushedRequests(db: DatabaseSync, now: UnixSeconds): void {
  change(db, "DELETE FROM pushed_requests WHERE expires_at <= ?", now);
}
