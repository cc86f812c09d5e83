/**
 * @module
 * The accounts part of the embedded store: users, login throttling and the service's own
 * secrets. A password change or a removal ends the user's sessions in the same transaction,
 * through the tokens and sign-in parts' helpers.
 */
import type { DatabaseSync } from "node:sqlite";
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { AccountChange, AccountStore, ThrottleDecision, ThrottleRecord } from "../accounts.ts";
import { actsForItself } from "../clients.ts";
import { duplicateUser, userNameTaken } from "../errors.ts";
import { THROTTLE_RETENTION_SECONDS } from "../_retention.ts";
import * as records from "../_rows.ts";
import { liveSessions } from "../_session_end.ts";
import { newSubject } from "../_subjects.ts";
import { reservationsColumn, throttleWrites } from "../_throttle.ts";
import { all, change, one, run, transaction } from "./database.ts";
import { deleteUserBrowserSessions, forgetUserConsents } from "./sign_in.ts";
import { revokeUserFamilies } from "./tokens.ts";

/** The columns of a user's record. */
const USER_COLUMNS = "username, subject, password_hash, created_at";

/** The accounts part on `db`. */
export function createAccountStore(db: DatabaseSync): AccountStore {
  /** Runs `found` (true when the user exists) and ends the user's sessions, in one step. */
  function accountChange(
    username: string,
    now: UnixSeconds,
    found: () => boolean,
  ): Promise<AccountChange> {
    return transaction(db, () => {
      if (!found()) return { found: false, sessionsEnded: 0 };
      const families = revokeUserFamilies(db, username, now);
      const browsers = deleteUserBrowserSessions(db, username);
      return { found: true, sessionsEnded: liveSessions({ families, browsers }, now) };
    });
  }

  return {
    getUser(username) {
      return run(() => {
        const row = one(db, `SELECT ${USER_COLUMNS} FROM users WHERE username = ?`, username);
        return row && records.toUser(row);
      });
    },

    getUserBySubject(subject) {
      return run(() => {
        const row = one(db, `SELECT ${USER_COLUMNS} FROM users WHERE subject = ?`, subject);
        return row && records.toUser(row);
      });
    },

    addUser(username, passwordHash, options = {}) {
      // The write lock is taken before the client is read: no client can be added in between.
      return transaction(db, () => {
        const client = one(db, "SELECT * FROM clients WHERE client_id = ?", username);
        if (client && actsForItself(records.toClient(client))) {
          throw userNameTaken(username);
        }
        const added = change(
          db,
          `INSERT INTO users (username, subject, password_hash, created_at, demo)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING`,
          username,
          newSubject(),
          passwordHash,
          unixNow(),
          options.demo ? 1 : 0,
        );
        if (added === 0) throw duplicateUser(username);
      });
    },

    replacePasswordHash(username, expected, passwordHash) {
      return run(() =>
        change(
          db,
          "UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?",
          passwordHash,
          username,
          expected,
        ) > 0
      );
    },

    changePassword(username, passwordHash, now) {
      return accountChange(username, now, () =>
        change(
          db,
          "UPDATE users SET password_hash = ?, demo = 0 WHERE username = ?",
          passwordHash,
          username,
        ) > 0);
    },

    removeUser(username, now) {
      return accountChange(username, now, () => {
        const removed = one(db, "DELETE FROM users WHERE username = ? RETURNING subject", username);
        if (removed) forgetUserConsents(db, removed.subject as string);
        return removed !== undefined;
      });
    },

    endUserSessions(username, now) {
      return accountChange(
        username,
        now,
        () => one(db, "SELECT 1 FROM users WHERE username = ?", username) !== undefined,
      );
    },

    listUsers() {
      return run(() => usernames(all(db, "SELECT username FROM users ORDER BY username")));
    },

    listDemoUsers() {
      return run(() =>
        usernames(all(db, "SELECT username FROM users WHERE demo = 1 ORDER BY username"))
      );
    },

    countPasswordIterations() {
      // The count starts at character 18, after "$pbkdf2-sha256$i=", and ends at the next "$".
      return run(() =>
        iterationCounts(all(
          db,
          `SELECT substr(password_hash, 18, instr(substr(password_hash, 18), '$') - 1) AS i,
             count(*) AS users
           FROM users WHERE password_hash LIKE '$pbkdf2-sha256$i=%$%' GROUP BY i`,
        ))
      );
    },

    updateThrottles<T>(
      keys: readonly string[],
      decide: (current: ReadonlyMap<string, ThrottleRecord>) => ThrottleDecision<T>,
    ): Promise<T> {
      // The write lock is taken before the read, so no other connection can change these keys
      // until the commit; within this process the synchronous driver cannot interleave calls.
      return transaction(db, () => {
        const current = new Map<string, ThrottleRecord>();
        for (const key of keys) {
          const row = one(
            db,
            `SELECT failures, window_start, blocked_until, reserved_until FROM throttle
             WHERE key = ?`,
            key,
          );
          if (row) current.set(key, records.toThrottle(row));
        }
        const decision = decide(current);
        for (const [key, record] of throttleWrites(keys, decision)) {
          if (record === null) {
            change(db, "DELETE FROM throttle WHERE key = ?", key);
            continue;
          }
          change(
            db,
            `INSERT INTO throttle (key, failures, window_start, blocked_until, reserved_until)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
               window_start = excluded.window_start, blocked_until = excluded.blocked_until,
               reserved_until = excluded.reserved_until`,
            key,
            record.failures,
            record.windowStartAt,
            record.blockedUntil,
            reservationsColumn(record),
          );
        }
        return decision.result;
      });
    },

    ensureSecret(name, candidate) {
      return transaction(db, () => {
        change(
          db,
          "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
          name,
          candidate,
          unixNow(),
        );
        return one(db, "SELECT value FROM secrets WHERE name = ?", name)!.value as string;
      });
    },
  };
}

/** Deletes throttle entries neither blocking nor touched within the retention. */
export function pruneThrottles(db: DatabaseSync, now: UnixSeconds): void {
  change(
    db,
    "DELETE FROM throttle WHERE blocked_until <= ? AND window_start <= ?",
    now,
    now - THROTTLE_RETENTION_SECONDS,
  );
}

function usernames(rows: records.Row[]): string[] {
  return rows.map((row) => row.username as string);
}

function iterationCounts(rows: records.Row[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const row of rows) {
    const iterations = Number(row.i);
    if (/^\d+$/.test(String(row.i)) && Number.isSafeInteger(iterations)) {
      counts.set(iterations, (counts.get(iterations) ?? 0) + Number(row.users));
    }
  }
  return counts;
}
