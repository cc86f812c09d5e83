/**
 * @module
 * The remembered-devices part of the embedded store: each user's devices, renewed by later
 * logins on them and forgotten from the account page.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { RememberedDeviceStore } from "../remembered_devices.ts";
import * as records from "../_rows.ts";
import { all, change, one, run, transaction } from "./database.ts";

/** The remembered-devices part on `db`. */
export function createRememberedDeviceStore(db: DatabaseSync): RememberedDeviceStore {
  return {
    rememberDevice(device, { atMost } = {}) {
      return transaction(db, () => {
        const added = change(
          db,
          `INSERT INTO remembered_devices
             (device_id, username, label, first_seen_at, last_seen_at, expires_at)
           SELECT ?, username, ?, ?, ?, ? FROM users WHERE username = ?`,
          device.deviceId,
          device.label,
          device.firstSeenAt,
          device.lastSeenAt,
          device.expiresAt,
          device.username,
        ) > 0;
        if (added && atMost !== undefined) {
          change(
            db,
            `DELETE FROM remembered_devices WHERE username = ? AND device_id NOT IN (
               SELECT device_id FROM remembered_devices WHERE username = ?
               ORDER BY last_seen_at DESC, first_seen_at DESC, device_id LIMIT ?)`,
            device.username,
            device.username,
            atMost,
          );
        }
        return added;
      });
    },

    renewDevice(deviceId, username, expiresAt, now) {
      return run(() =>
        change(
          db,
          `UPDATE remembered_devices SET last_seen_at = ?, expires_at = ?
           WHERE device_id = ? AND username = ? AND expires_at > ?`,
          now,
          expiresAt,
          deviceId,
          username,
          now,
        ) > 0
      );
    },

    isDeviceRemembered(deviceId, username, now) {
      return run(() =>
        one(
          db,
          `SELECT 1 FROM remembered_devices
           WHERE device_id = ? AND username = ? AND expires_at > ?`,
          deviceId,
          username,
          now,
        ) !== undefined
      );
    },

    listRememberedDevices(username, now) {
      return run(() =>
        all(
          db,
          `SELECT * FROM remembered_devices WHERE username = ? AND expires_at > ?
           ORDER BY last_seen_at DESC, first_seen_at DESC, device_id`,
          username,
          now,
        ).map(records.toRememberedDevice)
      );
    },

    forgetDevice(username, deviceId) {
      return run(() =>
        change(
          db,
          "DELETE FROM remembered_devices WHERE username = ? AND device_id = ?",
          username,
          deviceId,
        ) > 0
      );
    },

    forgetDevices(username) {
      return run(() => change(db, "DELETE FROM remembered_devices WHERE username = ?", username));
    },
  };
}

/** Deletes the devices expired at `now`; run inside the store's pruning transaction. */
export function pruneRememberedDevices(db: DatabaseSync, now: UnixSeconds): void {
  change(db, "DELETE FROM remembered_devices WHERE expires_at <= ?", now);
}
