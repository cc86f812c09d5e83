/**
 * @module
 * The sign-in part of the embedded store: pending steps, authorization codes, browser sessions
 * with the refresh families issued in them, and consents. Code use decides through
 * _code_use.ts inside the write lock taken before the read; a pending sign-in is counted against
 * its address, and a code's session trimmed, inside the write lock too.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { BrowserSessionRecord, SignInStore } from "../sign_in.ts";
import { planCodeUse } from "../_code_use.ts";
import * as records from "../_rows.ts";
import { refusalAtCap } from "./address_caps.ts";
import { all, change, one, run, transaction } from "./database.ts";

/** The sign-in part on `db`. */
export function createSignInStore(db: DatabaseSync): SignInStore {
  return {
    addPendingRequest(record, maxPerAddress) {
      return transaction(db, () => {
        const refusal = refusalAtCap(db, "pending_requests", { record, maxPerAddress });
        if (refusal) return refusal;
        change(
          db,
          `INSERT INTO pending_requests (id, binding_hash, csrf_hash, action, address, created_at,
           expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          record.id,
          record.bindingHash,
          record.csrfHash,
          record.action,
          record.address,
          record.createdAt,
          record.expiresAt,
        );
        return { added: true };
      });
    },

    getPendingRequest(id, now) {
      return run(() => {
        const row = one(
          db,
          "SELECT * FROM pending_requests WHERE id = ? AND expires_at > ?",
          id,
          now,
        );
        return row && records.toPendingRequest(row);
      });
    },

    takePendingRequest(id, now) {
      return run(() => {
        const row = one(
          db,
          "DELETE FROM pending_requests WHERE id = ? AND expires_at > ? RETURNING *",
          id,
          now,
        );
        return row && records.toPendingRequest(row);
      });
    },

    addAuthorizationCode(record, maxPerSession) {
      return transaction(db, () => {
        change(
          db,
          `INSERT INTO authorization_codes (code_hash, client_id, username, subject, redirect_uri,
           scope, code_challenge, nonce, auth_time, browser_sid, created_at, expires_at, used_at,
           family_id, replayed_at, dpop_jkt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          record.codeHash,
          record.clientId,
          record.username,
          record.subject,
          record.redirectUri,
          record.scope,
          record.codeChallenge,
          record.nonce,
          record.authTime,
          record.browserSid,
          record.createdAt,
          record.expiresAt,
          record.usedAt,
          record.familyId,
          record.replayedAt,
          record.dpopJkt ?? null,
        );
        change(
          db,
          "DELETE FROM authorization_codes WHERE browser_sid = ? AND expires_at <= ?",
          record.browserSid,
          record.createdAt,
        );
        if (maxPerSession !== undefined) {
          // A new row's rowid is above every other's, so the newest codes have the highest.
          change(
            db,
            `DELETE FROM authorization_codes WHERE browser_sid = ? AND rowid NOT IN (
               SELECT rowid FROM authorization_codes WHERE browser_sid = ?
               ORDER BY rowid DESC LIMIT ?)`,
            record.browserSid,
            record.browserSid,
            maxPerSession,
          );
        }
      });
    },

    useAuthorizationCode(codeHash, now) {
      return transaction(db, () => {
        const row = one(db, "SELECT * FROM authorization_codes WHERE code_hash = ?", codeHash);
        const { result, changed } = planCodeUse(row && records.toAuthorizationCode(row), now);
        if (changed) {
          change(
            db,
            "UPDATE authorization_codes SET used_at = ?, replayed_at = ? WHERE code_hash = ?",
            changed.usedAt,
            changed.replayedAt,
            codeHash,
          );
        }
        return result;
      });
    },

    attachCodeFamily(codeHash, familyId) {
      return run(() => {
        const row = one(
          db,
          "UPDATE authorization_codes SET family_id = ? WHERE code_hash = ? RETURNING replayed_at",
          familyId,
          codeHash,
        );
        return { replayed: row !== undefined && row.replayed_at !== null };
      });
    },

    async addBrowserSession(record) {
      await run(() =>
        change(
          db,
          `INSERT INTO browser_sessions (id_hash, sid, username, subject, auth_time, created_at,
           idle_expires_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          record.idHash,
          record.sid,
          record.username,
          record.subject,
          record.authTime,
          record.createdAt,
          record.idleExpiresAt,
          record.expiresAt,
        )
      );
    },

    getBrowserSession(idHash) {
      return run(() => {
        const row = one(db, "SELECT * FROM browser_sessions WHERE id_hash = ?", idHash);
        return row && records.toBrowserSession(row);
      });
    },

    touchBrowserSession(idHash, idleExpiresAt) {
      return run(() =>
        change(
          db,
          "UPDATE browser_sessions SET idle_expires_at = ? WHERE id_hash = ?",
          idleExpiresAt,
          idHash,
        ) > 0
      );
    },

    linkSessionFamily(sid, familyId) {
      return transaction(db, () => {
        if (!one(db, "SELECT 1 FROM browser_sessions WHERE sid = ?", sid)) return false;
        change(
          db,
          "INSERT INTO browser_session_families (sid, family_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
          sid,
          familyId,
        );
        return true;
      });
    },

    endBrowserSession(sid) {
      return transaction(db, () => {
        const ended = change(db, "DELETE FROM browser_sessions WHERE sid = ?", sid);
        const families = unlinkFamilies(db, sid);
        return ended > 0 ? families : undefined;
      });
    },

    getConsent(subject, clientId) {
      return run(() =>
        one(
          db,
          "SELECT scope FROM consents WHERE subject = ? AND client_id = ?",
          subject,
          clientId,
        )?.scope as string | undefined
      );
    },

    async saveConsent(subject, clientId, scope, now) {
      await run(() =>
        change(
          db,
          `INSERT INTO consents (subject, client_id, scope, granted_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope,
             granted_at = excluded.granted_at`,
          subject,
          clientId,
          scope,
          now,
        )
      );
    },
  };
}

/**
 * Deletes a user's browser sessions with their family links; returns the sessions. Runs inside
 * the caller's transaction.
 */
export function deleteUserBrowserSessions(
  db: DatabaseSync,
  username: string,
): BrowserSessionRecord[] {
  const rows = all(db, "DELETE FROM browser_sessions WHERE username = ? RETURNING *", username);
  const sessions = rows.map(records.toBrowserSession);
  for (const session of sessions) unlinkFamilies(db, session.sid);
  return sessions;
}

/** Deletes the consents an account gave. Runs inside the caller's transaction. */
export function forgetUserConsents(db: DatabaseSync, subject: string): void {
  change(db, "DELETE FROM consents WHERE subject = ?", subject);
}

/**
 * Deletes the consents given to a client and its authorization codes, used or not. Runs inside
 * the caller's transaction.
 */
export function forgetClientSignIns(db: DatabaseSync, clientId: string): void {
  change(db, "DELETE FROM consents WHERE client_id = ?", clientId);
  change(db, "DELETE FROM authorization_codes WHERE client_id = ?", clientId);
}

/**
 * Deletes expired pending steps, expired authorization codes (used or not), and ended browser
 * sessions with their family links. Runs inside the caller's transaction.
 */
export function pruneSignIn(db: DatabaseSync, now: UnixSeconds): void {
  change(db, "DELETE FROM pending_requests WHERE expires_at <= ?", now);
  change(db, "DELETE FROM authorization_codes WHERE expires_at <= ?", now);
  change(
    db,
    "DELETE FROM browser_sessions WHERE expires_at <= ? OR idle_expires_at <= ?",
    now,
    now,
  );
  change(
    db,
    "DELETE FROM browser_session_families WHERE sid NOT IN (SELECT sid FROM browser_sessions)",
  );
}

/** Deletes the family links of the browser session `sid`; returns the families. */
function unlinkFamilies(db: DatabaseSync, sid: string): string[] {
  const rows = all(
    db,
    "DELETE FROM browser_session_families WHERE sid = ? RETURNING family_id",
    sid,
  );
  return rows.map((row) => row.family_id as string);
}
