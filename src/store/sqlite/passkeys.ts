/**
 * @module
 * The passkey part of the embedded store. A use advances the counter in one conditional UPDATE,
 * so the write lock decides between concurrent uses of one credential.
 */
import type { DatabaseSync } from "node:sqlite";
import type { PasskeyStore } from "../passkeys.ts";
import * as records from "../_rows.ts";
import { all, change, one, run, transaction } from "./database.ts";

const SELECT_PASSKEY =
  `SELECT p.*, u.username FROM passkeys p JOIN users u ON u.subject = p.subject`;

/** The passkey part on `db`. */
export function createPasskeyStore(db: DatabaseSync): PasskeyStore {
  return {
    addPasskey(passkey, { atMost = Infinity } = {}) {
      return transaction(db, () => {
        if (!one(db, "SELECT 1 FROM users WHERE subject = ?", passkey.subject)) return false;
        const { count } = one(
          db,
          "SELECT count(*) AS count FROM passkeys WHERE subject = ?",
          passkey.subject,
        ) as { count: number };
        if (count >= atMost) return false;
        return change(
          db,
          `INSERT INTO passkeys (id, subject, public_key, counter, transports, backup_eligible,
             backed_up, user_verified, name, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          passkey.id,
          passkey.subject,
          passkey.publicKey,
          passkey.counter,
          passkey.transports.join(" "),
          passkey.backupEligible ? 1 : 0,
          passkey.backedUp ? 1 : 0,
          passkey.userVerified ? 1 : 0,
          passkey.name,
          passkey.createdAt,
        ) > 0;
      });
    },

    getPasskey(id) {
      return run(() => {
        const row = one(db, `${SELECT_PASSKEY} WHERE p.id = ?`, id);
        return row && records.toPasskey(row);
      });
    },

    listPasskeys(subject) {
      return run(() =>
        all(db, `${SELECT_PASSKEY} WHERE p.subject = ? ORDER BY p.created_at, p.rowid`, subject)
          .map(records.toPasskey)
      );
    },

    usePasskey(id, { counter, backedUp, now }) {
      return run(() =>
        change(
          db,
          `UPDATE passkeys SET counter = ?, backed_up = ?, last_used_at = ?
           WHERE id = ? AND (counter < ? OR (counter = 0 AND ? = 0))`,
          counter,
          backedUp ? 1 : 0,
          now,
          id,
          counter,
          counter,
        ) > 0
      );
    },

    renamePasskey(subject, id, name) {
      return run(() =>
        change(db, "UPDATE passkeys SET name = ? WHERE subject = ? AND id = ?", name, subject, id) >
          0
      );
    },

    removePasskey(subject, id) {
      return run(() =>
        change(db, "DELETE FROM passkeys WHERE subject = ? AND id = ?", subject, id) > 0
      );
    },

    removePasskeys(subject) {
      return run(() => change(db, "DELETE FROM passkeys WHERE subject = ?", subject));
    },
  };
}
