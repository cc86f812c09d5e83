/**
 * @module
 * The remembered-devices part of the shared store: each user's devices, renewed by later logins
 * on them and forgotten from the account page, on any instance.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { RememberedDeviceStore } from "../remembered_devices.ts";
import * as records from "../_rows.ts";
import { run, type Sql, type Transaction, transaction } from "./connection.ts";

/** The remembered-devices part on the pool `sql`. */
export function createRememberedDeviceStore(sql: Sql): RememberedDeviceStore {
  return {
    rememberDevice(device, { atMost } = {}) {
      return transaction(sql, async (tx) => {
        // The user's row is locked: logins of one user take turns, so the bound holds.
        const rows = await tx`
          WITH owner AS (SELECT username FROM users WHERE username = ${device.username} FOR UPDATE)
          INSERT INTO remembered_devices
            (device_id, username, label, first_seen_at, last_seen_at, expires_at)
          SELECT ${device.deviceId}, username, ${device.label}, ${device.firstSeenAt},
            ${device.lastSeenAt}, ${device.expiresAt}
          FROM owner
          RETURNING 1`;
        if (rows.length > 0 && atMost !== undefined) {
          await tx`
            DELETE FROM remembered_devices WHERE username = ${device.username}
              AND device_id NOT IN (
                SELECT device_id FROM remembered_devices WHERE username = ${device.username}
                ORDER BY last_seen_at DESC, first_seen_at DESC, device_id LIMIT ${atMost})`;
        }
        return rows.length > 0;
      });
    },

    renewDevice(deviceId, username, expiresAt, now) {
      return run(async () => {
        const rows = await sql`
          UPDATE remembered_devices SET last_seen_at = ${now}, expires_at = ${expiresAt}
          WHERE device_id = ${deviceId} AND username = ${username} AND expires_at > ${now}
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    isDeviceRemembered(deviceId, username, now) {
      return run(async () => {
        const rows = await sql`
          SELECT 1 FROM remembered_devices
          WHERE device_id = ${deviceId} AND username = ${username} AND expires_at > ${now}`;
        return rows.length > 0;
      });
    },

    listRememberedDevices(username, now) {
      return run(async () => {
        const rows = await sql`
          SELECT * FROM remembered_devices WHERE username = ${username} AND expires_at > ${now}
          ORDER BY last_seen_at DESC, first_seen_at DESC, device_id`;
        return rows.map(records.toRememberedDevice);
      });
    },

    forgetDevice(username, deviceId) {
      return run(async () => {
        const rows = await sql`
          DELETE FROM remembered_devices WHERE username = ${username} AND device_id = ${deviceId}
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    forgetDevices(username) {
      return run(async () => {
        const rows = await sql`
          DELETE FROM remembered_devices WHERE username = ${username} RETURNING 1`;
        return rows.length;
      });
    },
  };
}

/** Deletes the devices expired at `now`; run inside the store's pruning transaction. */
export async function pruneRememberedDevices(tx: Transaction, now: UnixSeconds): Promise<void> {
  await tx`DELETE FROM remembered_devices WHERE expires_at <= ${now}`;
}
