/**
 * @module
 * The accounts part of the shared store: users, login throttling and the service's own secrets.
 * A password change or a removal ends the user's sessions in the same transaction, through the
 * tokens and sign-in parts' helpers, locking the user's row first, then the families, then the
 * revocations: the order every other transaction keeps.
 */
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { AccountChange, AccountStore, ThrottleRecord } from "../accounts.ts";
import { actsForItself } from "../clients.ts";
import { duplicateUser, userNameTaken } from "../errors.ts";
import { THROTTLE_RETENTION_SECONDS } from "../_retention.ts";
import * as records from "../_rows.ts";
import { liveSessions } from "../_session_end.ts";
import { newSubject } from "../_subjects.ts";
import { reservationsColumn, throttleWrites } from "../_throttle.ts";
import { run, type Sql, type Transaction, transaction } from "./connection.ts";
import { NAME_LOCK, THROTTLE_LOCK_CLASS } from "./locks.ts";
import { deleteUserBrowserSessions, forgetUserConsents } from "./sign_in.ts";
import { revokeUserFamilies } from "./tokens.ts";

/** The iteration count of a PHC PBKDF2 hash, as a POSIX regular expression with one group. */
const PBKDF2_ITERATIONS = String.raw`^\$pbkdf2-sha256\$i=([0-9]{1,15})\$`;

/** The accounts part on the pool `sql`. */
export function createAccountStore(sql: Sql): AccountStore {
  /**
   * Runs `change` on the user's row (returning it when the user exists) and, in the same
   * transaction, ends the user's sessions.
   */
  function accountChange(
    username: string,
    now: UnixSeconds,
    change: (tx: Transaction) => PromiseLike<readonly unknown[]>,
  ): Promise<AccountChange> {
    return transaction(sql, async (tx) => {
      const found = (await change(tx)).length > 0;
      if (!found) return { found, sessionsEnded: 0 };
      const families = await revokeUserFamilies(tx, username, now);
      // Browser sessions after the families: the order in which sign-out locks them.
      const browsers = await deleteUserBrowserSessions(tx, username);
      return { found, sessionsEnded: liveSessions({ families, browsers }, now) };
    });
  }

  return {
    getUser(username) {
      return run(async () => {
        const [row] = await sql`
          SELECT username, subject, password_hash, created_at FROM users
          WHERE username = ${username}`;
        return row && records.toUser(row);
      });
    },

    getUserBySubject(subject) {
      return run(async () => {
        const [row] = await sql`
          SELECT username, subject, password_hash, created_at FROM users
          WHERE subject = ${subject}`;
        return row && records.toUser(row);
      });
    },

    addUser(username, passwordHash, options = {}) {
      return transaction(sql, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${NAME_LOCK})`;
        const [client] = await tx`SELECT * FROM clients WHERE client_id = ${username}`;
        if (client && actsForItself(records.toClient(client))) throw userNameTaken(username);
        const rows = await tx`
          INSERT INTO users (username, subject, password_hash, created_at, demo)
          VALUES (${username}, ${newSubject()}, ${passwordHash}, ${unixNow()},
            ${options.demo ?? false})
          ON CONFLICT (username) DO NOTHING RETURNING username`;
        if (rows.length === 0) throw duplicateUser(username);
      });
    },

    replacePasswordHash(username, expected, passwordHash) {
      return run(async () => {
        const result = await sql`
          UPDATE users SET password_hash = ${passwordHash}
          WHERE username = ${username} AND password_hash = ${expected}`;
        return result.count > 0;
      });
    },

    changePassword(username, passwordHash, now) {
      return accountChange(username, now, (tx) =>
        tx`
          UPDATE users SET password_hash = ${passwordHash}, demo = false
          WHERE username = ${username} RETURNING username`);
    },

    removeUser(username, now) {
      return accountChange(username, now, async (tx) => {
        const removed = await tx`DELETE FROM users WHERE username = ${username} RETURNING subject`;
        for (const { subject } of removed) await forgetUserConsents(tx, subject);
        return removed;
      });
    },

    endUserSessions(username, now) {
      return accountChange(
        username,
        now,
        (tx) => tx`SELECT username FROM users WHERE username = ${username} FOR UPDATE`,
      );
    },

    listUsers() {
      return run(async () => {
        const rows = await sql`SELECT username FROM users ORDER BY username COLLATE "C"`;
        return rows.map((row) => row.username);
      });
    },

    listDemoUsers() {
      return run(async () => {
        const rows = await sql`
          SELECT username FROM users WHERE demo ORDER BY username COLLATE "C"`;
        return rows.map((row) => row.username);
      });
    },

    countPasswordIterations() {
      return run(async () => {
        const rows = await sql`
          SELECT substring(password_hash FROM ${PBKDF2_ITERATIONS}) AS i, count(*) AS users
          FROM users WHERE password_hash ~ ${PBKDF2_ITERATIONS} GROUP BY i`;
        return new Map(rows.map((row) => [Number(row.i), Number(row.users)]));
      });
    },

    updateThrottles(keys, decide) {
      const unique = [...new Set(keys)];
      // One transaction-scoped advisory lock per key, taken in ascending order so that two calls
      // never wait on each other in a cycle. Unlike row locks they also cover keys that have no
      // row yet and rows another call deletes, and every instance on this database honours them.
      const locks = [...new Set(unique.map(throttleLockId))].sort((a, b) => a - b);
      // Wrapped: begin() would unwrap a result that is an array of queries.
      return transaction(sql, async (tx) => {
        // Sent together (pipelined); the server runs them in order, so the read follows the locks.
        const results = await Promise.all([
          ...locks.map((id) => tx`SELECT pg_advisory_xact_lock(${THROTTLE_LOCK_CLASS}, ${id})`),
          tx`
            SELECT key, failures, window_start, blocked_until, reserved_until FROM throttle
            WHERE key IN ${tx(unique)}`,
        ]);
        const current = new Map<string, ThrottleRecord>();
        for (const row of results[results.length - 1]) {
          current.set(row.key, records.toThrottle(row));
        }
        const decision = decide(current);
        await Promise.all(
          throttleWrites(unique, decision).map(([key, record]) =>
            record === null ? tx`DELETE FROM throttle WHERE key = ${key}` : tx`
              INSERT INTO throttle (key, failures, window_start, blocked_until, reserved_until)
              VALUES (${key}, ${record.failures}, ${record.windowStartAt}, ${record.blockedUntil},
                ${reservationsColumn(record)})
              ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                window_start = excluded.window_start, blocked_until = excluded.blocked_until,
                reserved_until = excluded.reserved_until`
          ),
        );
        return { result: decision.result };
      }).then(({ result }) => result);
    },

    ensureSecret(name, candidate) {
      return run(async () => {
        await sql`
          INSERT INTO secrets (name, value, created_at) VALUES (${name}, ${candidate}, ${unixNow()})
          ON CONFLICT DO NOTHING`;
        const [row] = await sql`SELECT value FROM secrets WHERE name = ${name}`;
        return row.value;
      });
    },
  };
}

/** Deletes throttle entries neither blocking nor touched within the retention. */
export async function pruneThrottles(tx: Transaction, now: UnixSeconds): Promise<void> {
  await tx`
    DELETE FROM throttle WHERE blocked_until <= ${now}
      AND window_start <= ${now - THROTTLE_RETENTION_SECONDS}`;
}

/** A 32-bit FNV-1a hash of a throttle key, as a signed integer: its advisory lock. */
function throttleLockId(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
