/**
 * @module
 * The second-factor part of the embedded store: authenticator secrets, recovery codes and the
 * sign-in methods of browser sessions. Each one-time use is one conditional UPDATE, so the write
 * lock decides between concurrent uses.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { SecondFactorStore } from "../second_factors.ts";
import * as records from "../_rows.ts";
import { change, one, run, transaction } from "./database.ts";

/** The second-factor part on `db`. */
export function createSecondFactorStore(db: DatabaseSync): SecondFactorStore {
  return {
    startTotpEnrolment(username, secret, now) {
      return transaction(db, () => {
        if (!one(db, "SELECT 1 FROM users WHERE username = ?", username)) return false;
        return change(
          db,
          `INSERT INTO totp_factors (username, secret, created_at) VALUES (?, ?, ?)
           ON CONFLICT (username) DO UPDATE SET secret = excluded.secret,
             created_at = excluded.created_at, last_step = NULL
           WHERE totp_factors.confirmed_at IS NULL`,
          username,
          secret,
          now,
        ) > 0;
      });
    },

    getTotpFactor(username) {
      return run(() => {
        const row = one(db, "SELECT * FROM totp_factors WHERE username = ?", username);
        return row && records.toTotpFactor(row);
      });
    },

    acceptTotpStep(username, secret, step, { confirming, now }) {
      return run(() =>
        change(
          db,
          `UPDATE totp_factors SET last_step = ?, confirmed_at = coalesce(confirmed_at, ?)
           WHERE username = ? AND secret = ? AND (last_step IS NULL OR last_step < ?)
             AND (confirmed_at IS NULL) = ?`,
          step,
          now,
          username,
          secret,
          step,
          confirming ? 1 : 0,
        ) > 0
      );
    },

    replaceRecoveryCodes(username, codeHashes, now) {
      return transaction(db, () => {
        change(db, "DELETE FROM recovery_codes WHERE username = ?", username);
        for (const codeHash of codeHashes) {
          change(
            db,
            "INSERT INTO recovery_codes (username, code_hash, created_at) VALUES (?, ?, ?)",
            username,
            codeHash,
            now,
          );
        }
      });
    },

    useRecoveryCode(username, codeHash, now) {
      return run(() =>
        change(
          db,
          `UPDATE recovery_codes SET used_at = ?
           WHERE username = ? AND code_hash = ? AND used_at IS NULL`,
          now,
          username,
          codeHash,
        ) > 0
      );
    },

    countRecoveryCodes(username) {
      return run(() => {
        const row = one(
          db,
          "SELECT count(*) AS n FROM recovery_codes WHERE username = ? AND used_at IS NULL",
          username,
        );
        return Number(row?.n ?? 0);
      });
    },

    removeSecondFactors(username) {
      return transaction(db, () => {
        const codes = change(db, "DELETE FROM recovery_codes WHERE username = ?", username);
        const factors = change(db, "DELETE FROM totp_factors WHERE username = ?", username);
        return codes + factors > 0;
      });
    },

    async setSessionMethods(sid, amr) {
      await run(() =>
        change(
          db,
          `INSERT INTO session_methods (sid, amr) VALUES (?, ?)
           ON CONFLICT (sid) DO UPDATE SET amr = excluded.amr`,
          sid,
          amr.join(" "),
        )
      );
    },

    getSessionMethods(sid) {
      return run(() => {
        const row = one(db, "SELECT amr FROM session_methods WHERE sid = ?", sid);
        return row ? String(row.amr).split(" ") : ["pwd"];
      });
    },
  };
}

/** Forgets the sign-in methods of browser sessions that have ended; inside the prune. */
export function pruneSessionMethods(db: DatabaseSync, _now: UnixSeconds): void {
  change(
    db,
    `DELETE FROM session_methods
     WHERE NOT EXISTS (SELECT 1 FROM browser_sessions s WHERE s.sid = session_methods.sid)`,
  );
}
