/**
 * @module
 * The embedded store on `node:sqlite`: one file in WAL mode, so the CLI and the server can use
 * it at the same time. Every method is async and rejects (never throws); a database locked by
 * another process past the busy timeout is StoreFailure `unavailable`, as PostgreSQL's outages are.
 * The files hold private keys: they are kept to their owner (see file_modes.ts), deleted content
 * is overwritten, and the write-ahead log is emptied after a key change.
 */
import { DatabaseSync } from "node:sqlite";
import { DAY_SECONDS, unixNow, type UnixSeconds } from "../clock.ts";
import { duplicateUser, storeUnavailable } from "./errors.ts";
import { secureDatabaseFiles } from "./file_modes.ts";
import {
  type KeyRevocation,
  type NewSigningKey,
  publicHalf,
  type RefreshOutcome,
  type RefreshTokenRecord,
  type RevocationRecord,
  type SigningKeyRecord,
  type Store,
  type ThrottleRecord,
  type UserRecord,
} from "./store.ts";

/** Schema versions, applied in order; the database remembers the last one in `user_version`. */
const MIGRATIONS = [
  `CREATE TABLE users (
     username TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE signing_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     retires_at INTEGER
   ) STRICT;
   CREATE TABLE throttle (
     key TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     window_start INTEGER NOT NULL,
     blocked_until INTEGER NOT NULL
   ) STRICT;`,
  `CREATE TABLE refresh_tokens (
     token_hash TEXT PRIMARY KEY,
     family_id TEXT NOT NULL,
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     scope TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER,
     revoked_at INTEGER
   ) STRICT;
   CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
   CREATE TABLE revocations (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     UNIQUE (kind, id)
   ) STRICT;`,
  // Every stored time in Unix seconds (users and throttle entries were in milliseconds).
  `UPDATE users SET created_at = created_at / 1000;
   UPDATE throttle SET window_start = window_start / 1000,
     blocked_until = (blocked_until + 999) / 1000;`,
  // Private keys only while current (the column becomes nullable, so the table is rebuilt);
  // demo users marked.
  `CREATE TABLE signing_keys_v4 (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT,
     public_jwk TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     retires_at INTEGER
   ) STRICT;
   INSERT INTO signing_keys_v4 (rowid, kid, alg, private_jwk, public_jwk, created_at, retires_at)
     SELECT rowid, kid, alg, CASE WHEN retires_at IS NULL THEN private_jwk END, public_jwk,
       created_at, retires_at FROM signing_keys;
   DROP TABLE signing_keys;
   ALTER TABLE signing_keys_v4 RENAME TO signing_keys;
   ALTER TABLE users ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;`,
];

type Row = Record<string, unknown>;

/** Throttle entries untouched for this long carry no information and are pruned. */
const THROTTLE_RETENTION_SECONDS = DAY_SECONDS;
/** How long a write waits for another process's lock before the store reports `unavailable`. */
const BUSY_TIMEOUT_MS = 5000;
/** SQLITE_BUSY and SQLITE_LOCKED, as node:sqlite words them. */
const LOCKED = /^database (table )?is locked/;

/**
 * The embedded store.
 *
 * @example
 * ```ts
 * const store = await SqliteStore.open("data/auth.db");
 * await store.addUser("alice", hash);
 * ```
 */
export class SqliteStore implements Store {
  /**
   * What was readable or writable by other users when the store was opened: the directory (left
   * as it is) and files (now 0600), as `"path" 0644`; empty when all was private.
   */
  readonly looseModes: readonly string[];
  #db: DatabaseSync;

  private constructor(db: DatabaseSync, looseModes: readonly string[]) {
    this.#db = db;
    this.looseModes = looseModes;
  }

  /**
   * Opens (creating when needed, the directory 0700 and the files 0600) and migrates the
   * database at `path`; `:memory:` works too.
   */
  static async open(path: string): Promise<SqliteStore> {
    const looseModes = path === ":memory:" ? [] : await secureDatabaseFiles(path);
    return await run(() => {
      const db = new DatabaseSync(path);
      try {
        db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON;`);
        db.exec("PRAGMA secure_delete = ON;");
        if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
        if (migrate(db)) truncateLog(db);
      } catch (error) {
        db.close();
        throw error;
      }
      return new SqliteStore(db, looseModes);
    });
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    return await run(() => {
      const row = this.#db
        .prepare("SELECT username, password_hash, created_at FROM users WHERE username = ?")
        .get(username) as Row | undefined;
      return row && {
        username: row.username as string,
        passwordHash: row.password_hash as string,
        createdAt: row.created_at as number,
      };
    });
  }

  async addUser(
    username: string,
    passwordHash: string,
    options: { demo?: boolean } = {},
  ): Promise<void> {
    const result = await run(() =>
      this.#db
        .prepare(
          `INSERT INTO users (username, password_hash, created_at, demo) VALUES (?, ?, ?, ?)
           ON CONFLICT DO NOTHING`,
        )
        .run(username, passwordHash, unixNow(), options.demo ? 1 : 0)
    );
    if (result.changes === 0) throw duplicateUser(username);
  }

  async setPasswordHash(username: string, passwordHash: string): Promise<boolean> {
    return await run(() =>
      this.#db
        .prepare("UPDATE users SET password_hash = ?, demo = 0 WHERE username = ?")
        .run(passwordHash, username).changes > 0
    );
  }

  async replacePasswordHash(
    username: string,
    expected: string,
    passwordHash: string,
  ): Promise<boolean> {
    return await run(() =>
      this.#db
        .prepare("UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?")
        .run(passwordHash, username, expected).changes > 0
    );
  }

  async removeUser(username: string): Promise<boolean> {
    return await run(() =>
      this.#db.prepare("DELETE FROM users WHERE username = ?").run(username).changes > 0
    );
  }

  async listUsers(): Promise<string[]> {
    return await run(() => {
      const rows = this.#db.prepare("SELECT username FROM users ORDER BY username").all() as Row[];
      return rows.map((row) => row.username as string);
    });
  }

  async listDemoUsers(): Promise<string[]> {
    return await run(() => {
      const rows = this.#db
        .prepare("SELECT username FROM users WHERE demo = 1 ORDER BY username")
        .all() as Row[];
      return rows.map((row) => row.username as string);
    });
  }

  async countPasswordIterations(): Promise<Map<number, number>> {
    return await run(() => {
      // The count starts at character 18, after "$pbkdf2-sha256$i=", and ends at the next "$".
      const rows = this.#db
        .prepare(
          `SELECT substr(password_hash, 18, instr(substr(password_hash, 18), '$') - 1) AS i,
             count(*) AS users
           FROM users WHERE password_hash LIKE '$pbkdf2-sha256$i=%$%' GROUP BY i`,
        )
        .all() as Row[];
      return iterationCounts(rows);
    });
  }

  async listSigningKeys(now: UnixSeconds): Promise<SigningKeyRecord[]> {
    return await run(() => {
      const rows = this.#db
        .prepare(
          `SELECT kid, alg, public_jwk, created_at, retires_at FROM signing_keys
           WHERE retires_at IS NULL OR retires_at > ? ORDER BY created_at DESC, rowid DESC`,
        )
        .all(now) as Row[];
      return rows.map(toSigningKey);
    });
  }

  async currentPrivateJwk(kid: string): Promise<string | undefined> {
    return await run(() => {
      const row = this.#db
        .prepare("SELECT private_jwk FROM signing_keys WHERE kid = ? AND retires_at IS NULL")
        .get(kid) as Row | undefined;
      return (row?.private_jwk as string | null | undefined) ?? undefined;
    });
  }

  async rotateSigningKey(
    key: NewSigningKey,
    retireOthersAt: UnixSeconds,
    now: UnixSeconds,
  ): Promise<void> {
    await this.#keyChange(() => {
      this.#db.prepare("DELETE FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at <= ?")
        .run(now);
      this.#db
        .prepare(
          "UPDATE signing_keys SET retires_at = ?, private_jwk = NULL WHERE retires_at IS NULL",
        )
        .run(retireOthersAt);
      this.#insertKey(key);
    });
  }

  async ensureSigningKey(key: NewSigningKey, now: UnixSeconds): Promise<SigningKeyRecord> {
    return await this.#transaction(() => {
      const current = this.#db
        .prepare(
          `SELECT kid, alg, public_jwk, created_at, retires_at FROM signing_keys
           WHERE retires_at IS NULL OR retires_at > ? ORDER BY created_at DESC, rowid DESC LIMIT 1`,
        )
        .get(now) as Row | undefined;
      if (current) return toSigningKey(current);
      this.#insertKey(key);
      return publicHalf(key);
    });
  }

  async revokeSigningKey(kid: string, replacement: NewSigningKey): Promise<KeyRevocation> {
    return await this.#keyChange((): KeyRevocation => {
      const row = this.#db.prepare("SELECT retires_at FROM signing_keys WHERE kid = ?").get(kid) as
        | Row
        | undefined;
      if (!row) return "unknown";
      this.#db.prepare("DELETE FROM signing_keys WHERE kid = ?").run(kid);
      if (row.retires_at !== null) return "retiring";
      this.#insertKey(replacement);
      return "current";
    });
  }

  async getThrottle(key: string): Promise<ThrottleRecord | undefined> {
    return await run(() => this.#readThrottle(key));
  }

  async recordFailure(
    key: string,
    update: (current: ThrottleRecord | undefined) => ThrottleRecord,
  ): Promise<ThrottleRecord> {
    return await this.#transaction(() => {
      const next = update(this.#readThrottle(key));
      this.#db
        .prepare(
          `INSERT INTO throttle (key, failures, window_start, blocked_until) VALUES (?, ?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
             window_start = excluded.window_start, blocked_until = excluded.blocked_until`,
        )
        .run(key, next.failures, next.windowStartAt, next.blockedUntil);
      return next;
    });
  }

  async clearThrottle(key: string): Promise<void> {
    await run(() => this.#db.prepare("DELETE FROM throttle WHERE key = ?").run(key));
  }

  async addRefreshToken(record: RefreshTokenRecord): Promise<void> {
    await run(() =>
      this.#db
        .prepare(
          `INSERT INTO refresh_tokens (token_hash, family_id, username, client_id, scope,
           created_at, expires_at, used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          record.tokenHash,
          record.familyId,
          record.username,
          record.clientId,
          record.scope,
          record.createdAt,
          record.expiresAt,
          record.usedAt,
          record.revokedAt,
        )
    );
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return await run(() => this.#readRefreshToken(tokenHash));
  }

  async useRefreshToken(tokenHash: string, now: UnixSeconds): Promise<RefreshOutcome> {
    return await this.#transaction((): RefreshOutcome => {
      const record = this.#readRefreshToken(tokenHash);
      if (!record) return { outcome: "unknown" };
      if (record.revokedAt !== null) return { outcome: "revoked", record };
      if (record.usedAt !== null) return { outcome: "reused", record };
      if (record.expiresAt <= now) return { outcome: "expired", record };
      this.#db.prepare("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?")
        .run(now, tokenHash);
      return { outcome: "rotated", record: { ...record, usedAt: now } };
    });
  }

  async revokeRefreshFamily(familyId: string, now: UnixSeconds): Promise<void> {
    await run(() =>
      this.#db
        .prepare(
          "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
        )
        .run(now, familyId)
    );
  }

  async addRevocation(
    kind: RevocationRecord["kind"],
    id: string,
    expiresAt: UnixSeconds,
  ): Promise<void> {
    await run(() =>
      this.#db
        .prepare(
          `INSERT INTO revocations (kind, id, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (kind, id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
        )
        .run(kind, id, expiresAt)
    );
  }

  async listRevocations(afterSeq: number, now: UnixSeconds): Promise<RevocationRecord[]> {
    return await run(() => {
      const rows = this.#db
        .prepare(
          `SELECT seq, kind, id, expires_at FROM revocations WHERE seq > ? AND expires_at > ?
           ORDER BY seq`,
        )
        .all(afterSeq, now) as Row[];
      return rows.map((row) => ({
        seq: row.seq as number,
        kind: row.kind as RevocationRecord["kind"],
        id: row.id as string,
        expiresAt: row.expires_at as number,
      }));
    });
  }

  async pruneExpired(now: UnixSeconds): Promise<void> {
    await this.#transaction(() => {
      this.#db.prepare("DELETE FROM refresh_tokens WHERE expires_at <= ?").run(now);
      this.#db.prepare("DELETE FROM revocations WHERE expires_at <= ?").run(now);
      this.#db.prepare("DELETE FROM throttle WHERE blocked_until <= ? AND window_start <= ?")
        .run(now, now - THROTTLE_RETENTION_SECONDS);
    });
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) await run(() => this.#db.close());
  }

  #readThrottle(key: string): ThrottleRecord | undefined {
    const row = this.#db
      .prepare("SELECT failures, window_start, blocked_until FROM throttle WHERE key = ?")
      .get(key) as Row | undefined;
    return row && {
      failures: row.failures as number,
      windowStartAt: row.window_start as number,
      blockedUntil: row.blocked_until as number,
    };
  }

  #readRefreshToken(tokenHash: string): RefreshTokenRecord | undefined {
    const row = this.#db
      .prepare(
        `SELECT token_hash, family_id, username, client_id, scope, created_at, expires_at,
           used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?`,
      )
      .get(tokenHash) as Row | undefined;
    return row && {
      tokenHash: row.token_hash as string,
      familyId: row.family_id as string,
      username: row.username as string,
      clientId: row.client_id as string,
      scope: row.scope as string,
      createdAt: row.created_at as number,
      expiresAt: row.expires_at as number,
      usedAt: row.used_at as number | null,
      revokedAt: row.revoked_at as number | null,
    };
  }

  #insertKey(key: NewSigningKey): void {
    this.#db
      .prepare(
        `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(key.kid, key.alg, key.privateJwk, key.publicJwk, key.createdAt, key.retiresAt);
  }

  /**
   * Runs a change of signing keys in one transaction, then empties the write-ahead log, so that
   * an erased private key survives in neither file.
   */
  async #keyChange<T>(work: () => T): Promise<T> {
    const result = await this.#transaction(work);
    await run(() => truncateLog(this.#db));
    return result;
  }

  /** Runs `work` in one write transaction (taking the write lock at once). */
  #transaction<T>(work: () => T): Promise<T> {
    return run(() => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const result = work();
        this.#db.exec("COMMIT");
        return result;
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    });
  }
}

/** Runs synchronous database work as a promise, turning a lock timeout into `unavailable`. */
function run<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(isLocked(error) ? storeUnavailable(error) : error);
  }
}

function isLocked(error: unknown): boolean {
  return (error as { code?: unknown })?.code === "ERR_SQLITE_ERROR" &&
    LOCKED.test((error as Error).message);
}

/** Applies pending migrations; true when any was applied. */
function migrate(db: DatabaseSync): boolean {
  // Each step re-reads the version inside its own write lock, so concurrent starts are safe.
  for (let applied = false;; applied = true) {
    db.exec("BEGIN IMMEDIATE");
    const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    if (version >= MIGRATIONS.length) {
      db.exec("COMMIT");
      return applied;
    }
    try {
      db.exec(MIGRATIONS[version]);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}

/**
 * Copies every committed page into the database file and empties the write-ahead log, where
 * older versions of changed pages would otherwise remain. A reader in another process may keep
 * the log from being emptied; its next write reuses the log from the start.
 */
function truncateLog(db: DatabaseSync): void {
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

function iterationCounts(rows: Row[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const row of rows) {
    const iterations = Number(row.i);
    if (/^\d+$/.test(String(row.i)) && Number.isSafeInteger(iterations)) {
      counts.set(iterations, (counts.get(iterations) ?? 0) + Number(row.users));
    }
  }
  return counts;
}

function toSigningKey(row: Row): SigningKeyRecord {
  return {
    kid: row.kid as string,
    alg: row.alg as string,
    publicJwk: row.public_jwk as string,
    createdAt: row.created_at as number,
    retiresAt: row.retires_at as number | null,
  };
}
