/**
 * @module
 * The sign-in part of the shared store: pending steps, authorization codes, browser sessions
 * with the refresh families issued in them, and consents. Code use decides through _code_use.ts
 * with the code's row locked; a browser session is deleted before its family links, in every
 * transaction, so that two never wait on each other. Counting an address's pending sign-ins and
 * trimming a session's codes each hold an advisory lock of their own (locks.ts).
 */
import type { UnixSeconds } from "../../clock.ts";
import type { BrowserSessionRecord, SignInStore } from "../sign_in.ts";
import { planCodeUse } from "../_code_use.ts";
import * as records from "../_rows.ts";
import { refusalAtCap } from "./address_caps.ts";
import { run, type Sql, type Transaction, transaction } from "./connection.ts";
import { SESSION_CODES_LOCK_CLASS } from "./locks.ts";

/** The sign-in part on the pool `sql`. */
export function createSignInStore(sql: Sql): SignInStore {
  return {
    addPendingRequest(record, maxPerAddress) {
      return transaction(sql, async (tx) => {
        const refusal = await refusalAtCap(tx, "pending_requests", { record, maxPerAddress });
        if (refusal) return refusal;
        await tx`
          INSERT INTO pending_requests (id, binding_hash, csrf_hash, action, address, created_at,
            expires_at)
          VALUES (${record.id}, ${record.bindingHash}, ${record.csrfHash}, ${record.action},
            ${record.address}, ${record.createdAt}, ${record.expiresAt})`;
        return { added: true };
      });
    },

    getPendingRequest(id, now) {
      return run(async () => {
        const [row] = await sql`
          SELECT * FROM pending_requests WHERE id = ${id} AND expires_at > ${now}`;
        return row && records.toPendingRequest(row);
      });
    },

    takePendingRequest(id, now) {
      return run(async () => {
        const [row] = await sql`
          DELETE FROM pending_requests WHERE id = ${id} AND expires_at > ${now} RETURNING *`;
        return row && records.toPendingRequest(row);
      });
    },

    addAuthorizationCode(record, maxPerSession) {
      return transaction(sql, async (tx) => {
        const sid = record.browserSid;
        // The session's lock orders its codes' ids as their commits, and keeps trims apart.
        await tx`SELECT pg_advisory_xact_lock(${SESSION_CODES_LOCK_CLASS}, hashtext(${sid}))`;
        await tx`
          INSERT INTO authorization_codes (code_hash, client_id, username, subject, redirect_uri,
            scope, code_challenge, nonce, auth_time, browser_sid, created_at, expires_at, used_at,
            family_id, replayed_at, dpop_jkt)
          VALUES (${record.codeHash}, ${record.clientId}, ${record.username}, ${record.subject},
            ${record.redirectUri}, ${record.scope}, ${record.codeChallenge}, ${record.nonce},
            ${record.authTime}, ${sid}, ${record.createdAt}, ${record.expiresAt},
            ${record.usedAt}, ${record.familyId}, ${record.replayedAt}, ${record.dpopJkt ?? null})`;
        await tx`
          DELETE FROM authorization_codes
          WHERE browser_sid = ${sid} AND expires_at <= ${record.createdAt}`;
        if (maxPerSession !== undefined) {
          await tx`
            DELETE FROM authorization_codes WHERE browser_sid = ${sid} AND id NOT IN (
              SELECT id FROM authorization_codes WHERE browser_sid = ${sid}
              ORDER BY id DESC LIMIT ${maxPerSession})`;
        }
      });
    },

    useAuthorizationCode(codeHash, now) {
      return transaction(sql, async (tx) => {
        const [row] = await tx`
          SELECT * FROM authorization_codes WHERE code_hash = ${codeHash} FOR UPDATE`;
        const { result, changed } = planCodeUse(row && records.toAuthorizationCode(row), now);
        if (changed) {
          await tx`
            UPDATE authorization_codes
            SET used_at = ${changed.usedAt}, replayed_at = ${changed.replayedAt}
            WHERE code_hash = ${codeHash}`;
        }
        return result;
      });
    },

    attachCodeFamily(codeHash, familyId) {
      return run(async () => {
        const [row] = await sql`
          UPDATE authorization_codes SET family_id = ${familyId} WHERE code_hash = ${codeHash}
          RETURNING replayed_at`;
        return { replayed: row !== undefined && row.replayed_at !== null };
      });
    },

    addBrowserSession(record) {
      return run(async () => {
        await sql`
          INSERT INTO browser_sessions (id_hash, sid, username, subject, auth_time, created_at,
            idle_expires_at, expires_at)
          VALUES (${record.idHash}, ${record.sid}, ${record.username}, ${record.subject},
            ${record.authTime},
            ${record.createdAt}, ${record.idleExpiresAt}, ${record.expiresAt})`;
      });
    },

    getBrowserSession(idHash) {
      return run(async () => {
        const [row] = await sql`SELECT * FROM browser_sessions WHERE id_hash = ${idHash}`;
        return row && records.toBrowserSession(row);
      });
    },

    touchBrowserSession(idHash, idleExpiresAt) {
      return run(async () => {
        const result = await sql`
          UPDATE browser_sessions SET idle_expires_at = ${idleExpiresAt}
          WHERE id_hash = ${idHash}`;
        return result.count > 0;
      });
    },

    linkSessionFamily(sid, familyId) {
      return transaction(sql, async (tx) => {
        // The share lock waits for a concurrent endBrowserSession, which then finds this link.
        const [session] = await tx`SELECT 1 FROM browser_sessions WHERE sid = ${sid} FOR SHARE`;
        if (!session) return false;
        await tx`
          INSERT INTO browser_session_families (sid, family_id) VALUES (${sid}, ${familyId})
          ON CONFLICT DO NOTHING`;
        return true;
      });
    },

    endBrowserSession(sid) {
      return transaction(sql, async (tx) => {
        const ended = await tx`DELETE FROM browser_sessions WHERE sid = ${sid}`;
        const rows = await tx`
          DELETE FROM browser_session_families WHERE sid = ${sid} RETURNING family_id`;
        return ended.count > 0 ? rows.map((row) => row.family_id as string) : undefined;
      });
    },

    getConsent(subject, clientId) {
      return run(async () => {
        const [row] = await sql`
          SELECT scope FROM consents WHERE subject = ${subject} AND client_id = ${clientId}`;
        return row?.scope;
      });
    },

    saveConsent(subject, clientId, scope, now) {
      return run(async () => {
        await sql`
          INSERT INTO consents (subject, client_id, scope, granted_at)
          VALUES (${subject}, ${clientId}, ${scope}, ${now})
          ON CONFLICT (subject, client_id) DO UPDATE
            SET scope = excluded.scope, granted_at = excluded.granted_at`;
      });
    },
  };
}

/**
 * Deletes a user's browser sessions, then their family links; returns the sessions. Runs inside
 * the caller's transaction.
 */
export async function deleteUserBrowserSessions(
  tx: Transaction,
  username: string,
): Promise<BrowserSessionRecord[]> {
  const sessions = (await tx`DELETE FROM browser_sessions WHERE username = ${username} RETURNING *`)
    .map(records.toBrowserSession);
  if (sessions.length > 0) {
    await tx`
      DELETE FROM browser_session_families
      WHERE sid = ANY(${sessions.map((session) => session.sid)})`;
  }
  return sessions;
}

/** Deletes the consents an account gave. Runs inside the caller's transaction. */
export async function forgetUserConsents(tx: Transaction, subject: string): Promise<void> {
  await tx`DELETE FROM consents WHERE subject = ${subject}`;
}

/**
 * Deletes the consents given to a client and its authorization codes, used or not. Runs inside
 * the caller's transaction.
 */
export async function forgetClientSignIns(tx: Transaction, clientId: string): Promise<void> {
  await tx`DELETE FROM consents WHERE client_id = ${clientId}`;
  await tx`DELETE FROM authorization_codes WHERE client_id = ${clientId}`;
}

/**
 * Deletes expired pending steps, expired authorization codes (used or not), and ended browser
 * sessions with their family links. Runs inside the caller's transaction.
 */
export async function pruneSignIn(tx: Transaction, now: UnixSeconds): Promise<void> {
  await tx`DELETE FROM pending_requests WHERE expires_at <= ${now}`;
  await tx`DELETE FROM authorization_codes WHERE expires_at <= ${now}`;
  await tx`
    DELETE FROM browser_sessions WHERE expires_at <= ${now} OR idle_expires_at <= ${now}`;
  await tx`
    DELETE FROM browser_session_families f
    WHERE NOT EXISTS (SELECT 1 FROM browser_sessions s WHERE s.sid = f.sid)`;
}
