/**
 * @module
 * The device part of the shared store (RFC 8628): device authorizations, counted against their
 * address's cap under the address's advisory lock when added. A poll decides through
 * _device_poll.ts on the row locked with FOR UPDATE; an answer is one conditional UPDATE. Both are
 * decided by PostgreSQL's row lock between concurrent callers, also across instances.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { DeviceAuthorizationStore } from "../device_authorizations.ts";
import { planDevicePoll } from "../_device_poll.ts";
import { DEVICE_AUTHORIZATION_RETENTION_SECONDS } from "../_retention.ts";
import * as records from "../_rows.ts";
import { refusalAtCap } from "./address_caps.ts";
import { run, type Sql, type Transaction, transaction } from "./connection.ts";

/** The device part on the pool `sql`. */
export function createDeviceAuthorizationStore(sql: Sql): DeviceAuthorizationStore {
  return {
    addDeviceAuthorization(record, maxPerAddress) {
      return transaction(sql, async (tx) => {
        const refusal = await refusalAtCap(tx, "device_authorizations", { record, maxPerAddress });
        if (refusal) return refusal;
        const rows = await tx`
          INSERT INTO device_authorizations (device_code_hash, user_code_hash, client_id, scope,
            created_at, expires_at, interval_seconds, last_polled_at, status, username, subject,
            browser_sid, auth_time, decided_at, address)
          VALUES (${record.deviceCodeHash}, ${record.userCodeHash}, ${record.clientId},
            ${record.scope}, ${record.createdAt}, ${record.expiresAt}, ${record.intervalSeconds},
            ${record.lastPolledAt}, ${record.status}, ${record.username}, ${record.subject},
            ${record.browserSid}, ${record.authTime}, ${record.decidedAt}, ${record.address})
          ON CONFLICT DO NOTHING
          RETURNING 1`;
        return rows.length > 0 ? { added: true } : { added: false, userCodeTaken: true };
      });
    },

    findPendingDeviceAuthorization(userCodeHash, now) {
      return run(async () => {
        const [row] = await sql`
          SELECT * FROM device_authorizations
          WHERE user_code_hash = ${userCodeHash} AND status = 'pending' AND expires_at > ${now}`;
        return row && records.toDeviceAuthorization(row);
      });
    },

    decideDeviceAuthorization(deviceCodeHash, decision, now) {
      return run(async () => {
        const rows = await sql`
          UPDATE device_authorizations
          SET status = ${decision.approved ? "approved" : "denied"},
            username = ${decision.username}, subject = ${decision.subject},
            browser_sid = ${decision.approved ? decision.browserSid : null},
            auth_time = ${decision.approved ? decision.authTime : null}, decided_at = ${now}
          WHERE device_code_hash = ${deviceCodeHash} AND status = 'pending'
            AND expires_at > ${now}
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    pollDeviceAuthorization(deviceCodeHash, poller, now) {
      return transaction(sql, async (tx) => {
        const [row] = await tx`
          SELECT * FROM device_authorizations WHERE device_code_hash = ${deviceCodeHash}
          FOR UPDATE`;
        const { result, changed } = planDevicePoll(
          row && records.toDeviceAuthorization(row),
          poller,
          now,
        );
        if (changed) {
          await tx`
            UPDATE device_authorizations SET status = ${changed.status},
              interval_seconds = ${changed.intervalSeconds},
              last_polled_at = ${changed.lastPolledAt}
            WHERE device_code_hash = ${deviceCodeHash}`;
        }
        return result;
      });
    },
  };
}

/** Deletes device authorizations expired longer ago than their retention; inside pruneExpired. */
export async function pruneDeviceAuthorizations(
  tx: Transaction,
  now: UnixSeconds,
): Promise<void> {
  await tx`
    DELETE FROM device_authorizations
    WHERE expires_at <= ${now - DEVICE_AUTHORIZATION_RETENTION_SECONDS}`;
}
