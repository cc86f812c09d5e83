/**
 * @module
 * The device part of the embedded store (RFC 8628): device authorizations, counted against their
 * address's cap inside the write lock when added. A poll decides through
 * _device_poll.ts inside the write lock taken before the read; an answer is one conditional
 * UPDATE, so the write lock decides between concurrent ones.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { DeviceAuthorizationStore } from "../device_authorizations.ts";
import { planDevicePoll } from "../_device_poll.ts";
import { DEVICE_AUTHORIZATION_RETENTION_SECONDS } from "../_retention.ts";
import * as records from "../_rows.ts";
import { refusalAtCap } from "./address_caps.ts";
import { change, one, run, transaction } from "./database.ts";

/** The device part on `db`. */
export function createDeviceAuthorizationStore(db: DatabaseSync): DeviceAuthorizationStore {
  return {
    addDeviceAuthorization(record, maxPerAddress) {
      return transaction(db, () => {
        const refusal = refusalAtCap(db, "device_authorizations", { record, maxPerAddress });
        if (refusal) return refusal;
        const added = change(
          db,
          `INSERT INTO device_authorizations (device_code_hash, user_code_hash, client_id, scope,
             created_at, expires_at, interval_seconds, last_polled_at, status, username, subject,
             browser_sid, auth_time, decided_at, address)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING`,
          record.deviceCodeHash,
          record.userCodeHash,
          record.clientId,
          record.scope,
          record.createdAt,
          record.expiresAt,
          record.intervalSeconds,
          record.lastPolledAt,
          record.status,
          record.username,
          record.subject,
          record.browserSid,
          record.authTime,
          record.decidedAt,
          record.address,
        ) > 0;
        return added ? { added } : { added, userCodeTaken: true };
      });
    },

    findPendingDeviceAuthorization(userCodeHash, now) {
      return run(() => {
        const row = one(
          db,
          `SELECT * FROM device_authorizations
           WHERE user_code_hash = ? AND status = 'pending' AND expires_at > ?`,
          userCodeHash,
          now,
        );
        return row && records.toDeviceAuthorization(row);
      });
    },

    decideDeviceAuthorization(deviceCodeHash, decision, now) {
      return run(() =>
        change(
          db,
          `UPDATE device_authorizations SET status = ?, username = ?, subject = ?,
             browser_sid = ?, auth_time = ?, decided_at = ?
           WHERE device_code_hash = ? AND status = 'pending' AND expires_at > ?`,
          decision.approved ? "approved" : "denied",
          decision.username,
          decision.subject,
          decision.approved ? decision.browserSid : null,
          decision.approved ? decision.authTime : null,
          now,
          deviceCodeHash,
          now,
        ) > 0
      );
    },

    pollDeviceAuthorization(deviceCodeHash, poller, now) {
      return transaction(db, () => {
        const row = one(
          db,
          "SELECT * FROM device_authorizations WHERE device_code_hash = ?",
          deviceCodeHash,
        );
        const { result, changed } = planDevicePoll(
          row && records.toDeviceAuthorization(row),
          poller,
          now,
        );
        if (changed) {
          change(
            db,
            `UPDATE device_authorizations SET status = ?, interval_seconds = ?, last_polled_at = ?
             WHERE device_code_hash = ?`,
            changed.status,
            changed.intervalSeconds,
            changed.lastPolledAt,
            deviceCodeHash,
          );
        }
        return result;
      });
    },
  };
}

/** Deletes device authorizations expired longer ago than their retention; inside pruneExpired. */
export function pruneDeviceAuthorizations(db: DatabaseSync, now: UnixSeconds): void {
  change(
    db,
    "DELETE FROM device_authorizations WHERE expires_at <= ?",
    now - DEVICE_AUTHORIZATION_RETENTION_SECONDS,
  );
}
