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
import { duplicateClient, duplicateUser, storeUnavailable } from "./errors.ts";
import { secureDatabaseFiles } from "./file_modes.ts";
import {
  type AccountChange,
  type AuthorizationCodeRecord,
  type BrowserSessionRecord,
  type ClientRecord,
  type CodeOutcome,
  type KeyRevocation,
  type NewRefreshToken,
  type NewSigningKey,
  type PendingRequestRecord,
  publicHalf,
  type RefreshFamilyRecord,
  type RefreshTokenRecord,
  type RefreshTokenState,
  type RevocationRecord,
  type RotationResult,
  type SigningKeyRecord,
  type Store,
  type ThrottleDecision,
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
  // Sessions get a row of their own (refresh_families), the one place their state lives.
  // Existing tokens become families: a session keeps the expiry of its newest token, now
  // absolute, and its access tokens are taken to live as long (their lifetime is not known
  // here). A family is revoked when any of its tokens was (tokens minted while it was being
  // revoked were not) and when its user is gone; the access tokens of those get a session
  // revocation. The tokens table loses the columns the family now holds.
  `CREATE TABLE refresh_families (
     id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     access_expires_at INTEGER NOT NULL,
     revoked_at INTEGER
   ) STRICT;
   CREATE INDEX refresh_families_username ON refresh_families (username);
   INSERT INTO revocations (kind, id, expires_at)
     SELECT 'sid', family_id, max(expires_at) FROM refresh_tokens WHERE true
     GROUP BY family_id
     HAVING max(expires_at) > unixepoch() AND (
       (count(revoked_at) > 0 AND count(revoked_at) < count(*))
       OR min(username) NOT IN (SELECT username FROM users))
     ON CONFLICT (kind, id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at);
   INSERT INTO refresh_families
     (id, username, client_id, created_at, expires_at, access_expires_at, revoked_at)
     SELECT family_id, min(username), min(client_id), min(created_at), max(expires_at),
       max(expires_at), coalesce(max(revoked_at),
         CASE WHEN min(username) NOT IN (SELECT username FROM users) THEN unixepoch() END)
     FROM refresh_tokens GROUP BY family_id;
   CREATE TABLE refresh_tokens_v4 (
     token_hash TEXT PRIMARY KEY,
     family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
     scope TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   ) STRICT;
   INSERT INTO refresh_tokens_v4 (token_hash, family_id, scope, created_at, expires_at, used_at)
     SELECT token_hash, family_id, scope, created_at, expires_at, used_at FROM refresh_tokens;
   DROP TABLE refresh_tokens;
   ALTER TABLE refresh_tokens_v4 RENAME TO refresh_tokens;
   CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);`,
  // Secrets the service makes for itself, such as the key that signs device tokens.
  `CREATE TABLE secrets (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     created_at INTEGER NOT NULL
   ) STRICT;`,
  // Private keys only while current (the column becomes nullable, so the table is rebuilt);
  // demo users marked.
  `CREATE TABLE signing_keys_v6 (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT,
     public_jwk TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     retires_at INTEGER
   ) STRICT;
   INSERT INTO signing_keys_v6 (rowid, kid, alg, private_jwk, public_jwk, created_at, retires_at)
     SELECT rowid, kid, alg, CASE WHEN retires_at IS NULL THEN private_jwk END, public_jwk,
       created_at, retires_at FROM signing_keys;
   DROP TABLE signing_keys;
   ALTER TABLE signing_keys_v6 RENAME TO signing_keys;
   ALTER TABLE users ADD COLUMN demo INTEGER NOT NULL DEFAULT 0;`,
  // Sign-in from browsers and other apps: registered clients, ID-token keys, pending steps,
  // authorization codes, browser sessions with the families issued in them, and consents.
  `CREATE TABLE clients (
     client_id TEXT PRIMARY KEY,
     name TEXT,
     secret_hash TEXT,
     redirect_uris TEXT NOT NULL,
     post_logout_redirect_uris TEXT NOT NULL,
     first_party INTEGER NOT NULL,
     scope TEXT NOT NULL,
     grant_types TEXT NOT NULL,
     created_at INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE id_token_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     retires_at INTEGER
   ) STRICT;
   CREATE TABLE pending_requests (
     id TEXT PRIMARY KEY,
     binding_hash TEXT NOT NULL,
     csrf_hash TEXT NOT NULL,
     action TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE authorization_codes (
     code_hash TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     username TEXT NOT NULL,
     redirect_uri TEXT NOT NULL,
     scope TEXT NOT NULL,
     code_challenge TEXT NOT NULL,
     nonce TEXT,
     auth_time INTEGER NOT NULL,
     browser_sid TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER,
     family_id TEXT,
     replayed_at INTEGER
   ) STRICT;
   CREATE TABLE browser_sessions (
     id_hash TEXT PRIMARY KEY,
     sid TEXT NOT NULL UNIQUE,
     username TEXT NOT NULL,
     auth_time INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     idle_expires_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX browser_sessions_username ON browser_sessions (username);
   CREATE TABLE browser_session_families (
     sid TEXT NOT NULL,
     family_id TEXT NOT NULL,
     PRIMARY KEY (sid, family_id)
   ) STRICT;
   CREATE TABLE consents (
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     scope TEXT NOT NULL,
     granted_at INTEGER NOT NULL,
     PRIMARY KEY (username, client_id)
   ) STRICT;`,
];

type Row = Record<string, unknown>;

/** Throttle entries untouched for this long carry no information and are pruned. */
const THROTTLE_RETENTION_SECONDS = DAY_SECONDS;
/** Used authorization codes are kept this long past their expiry, so a replay is still seen. */
const CODE_RETENTION_SECONDS = DAY_SECONDS;
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
   * database at `path`; `:memory:` works too. With `readOnly`, an existing database is only
   * read: nothing is created, migrated or made private (see {@linkcode pendingMigrations}).
   */
  static async open(path: string, options: { readOnly?: boolean } = {}): Promise<SqliteStore> {
    const { readOnly = false } = options;
    const looseModes = path === ":memory:" ? [] : await secureDatabaseFiles(path, { readOnly });
    return await run(() => {
      const db = new DatabaseSync(path, { readOnly });
      try {
        db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON;`);
        if (readOnly) return new SqliteStore(db, looseModes);
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

  /** How many schema versions the database lacks: more than 0 only when opened `readOnly`. */
  async pendingMigrations(): Promise<number> {
    return await run(() => {
      const { user_version: version } = this.#db.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      return Math.max(0, MIGRATIONS.length - version);
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

  async changePassword(
    username: string,
    passwordHash: string,
    now: UnixSeconds,
  ): Promise<AccountChange> {
    return await this.#transaction(() => {
      const found =
        this.#db.prepare("UPDATE users SET password_hash = ?, demo = 0 WHERE username = ?")
          .run(passwordHash, username).changes > 0;
      return { found, sessionsEnded: found ? this.#endSessions(username, now) : 0 };
    });
  }

  async removeUser(username: string, now: UnixSeconds): Promise<AccountChange> {
    return await this.#transaction(() => {
      const found = this.#db.prepare("DELETE FROM users WHERE username = ?").run(username)
        .changes > 0;
      return { found, sessionsEnded: found ? this.#endSessions(username, now) : 0 };
    });
  }

  async endUserSessions(username: string, now: UnixSeconds): Promise<AccountChange> {
    return await this.#transaction(() => {
      const found = this.#db.prepare("SELECT 1 FROM users WHERE username = ?").get(username) !==
        undefined;
      return { found, sessionsEnded: found ? this.#endSessions(username, now) : 0 };
    });
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

  async updateThrottles<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, ThrottleRecord>) => ThrottleDecision<T>,
  ): Promise<T> {
    // The write lock is taken before the read, so no other connection can change these keys
    // until the commit; within this process the synchronous driver cannot interleave calls.
    return await this.#transaction(() => {
      const current = new Map<string, ThrottleRecord>();
      for (const key of keys) {
        const record = this.#readThrottle(key);
        if (record) current.set(key, record);
      }
      const { writes, result } = decide(current);
      for (const [key, record] of Object.entries(writes)) {
        if (!keys.includes(key)) throw new Error(`Throttle key "${key}" was not read first`);
        if (record === null) {
          this.#db.prepare("DELETE FROM throttle WHERE key = ?").run(key);
          continue;
        }
        this.#db
          .prepare(
            `INSERT INTO throttle (key, failures, window_start, blocked_until) VALUES (?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
               window_start = excluded.window_start, blocked_until = excluded.blocked_until`,
          )
          .run(key, record.failures, record.windowStartAt, record.blockedUntil);
      }
      return result;
    });
  }

  async ensureSecret(name: string, candidate: string): Promise<string> {
    return await this.#transaction(() => {
      this.#db
        .prepare(
          "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .run(name, candidate, unixNow());
      const row = this.#db.prepare("SELECT value FROM secrets WHERE name = ?").get(name) as Row;
      return row.value as string;
    });
  }

  async startRefreshFamily(
    family: RefreshFamilyRecord,
    token: RefreshTokenRecord,
    passwordHash: string,
  ): Promise<boolean> {
    return await this.#transaction(() => {
      const current = this.#db
        .prepare("SELECT 1 FROM users WHERE username = ? AND password_hash = ?")
        .get(family.username, passwordHash);
      if (current === undefined) return false;
      this.#db
        .prepare(
          `INSERT INTO refresh_families (id, username, client_id, created_at, expires_at,
           access_expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          family.id,
          family.username,
          family.clientId,
          family.createdAt,
          family.expiresAt,
          family.accessExpiresAt,
          family.revokedAt,
        );
      this.#insertRefreshToken(token);
      return true;
    });
  }

  async getRefreshToken(tokenHash: string): Promise<RefreshTokenState | undefined> {
    return await run(() => this.#readRefreshToken(tokenHash));
  }

  async rotateRefreshToken(
    tokenHash: string,
    now: UnixSeconds,
    next: (current: RefreshTokenState) => NewRefreshToken,
  ): Promise<RotationResult> {
    // BEGIN IMMEDIATE takes the database's write lock before reading, so the family cannot be
    // revoked (by this process or another) between the checks and the insert.
    return await this.#transaction((): RotationResult => {
      const current = this.#readRefreshToken(tokenHash);
      if (!current) return { outcome: "unknown" };
      const { token, family } = current;
      if (family.revokedAt !== null) return { outcome: "revoked", family };
      if (token.usedAt !== null) {
        const revocation = this.#revokeFamily(family.id, now);
        return { outcome: "reused", family: { ...family, revokedAt: now }, revocation };
      }
      if (token.expiresAt <= now || family.expiresAt <= now) return { outcome: "expired", family };
      const wanted = next(current);
      const fresh: RefreshTokenRecord = {
        tokenHash: wanted.tokenHash,
        familyId: family.id,
        scope: wanted.scope,
        createdAt: now,
        expiresAt: Math.min(wanted.expiresAt, family.expiresAt),
        usedAt: null,
      };
      this.#db.prepare("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?")
        .run(now, tokenHash);
      this.#insertRefreshToken(fresh);
      const accessExpiresAt = Math.max(family.accessExpiresAt, wanted.accessExpiresAt);
      this.#db.prepare("UPDATE refresh_families SET access_expires_at = ? WHERE id = ?")
        .run(accessExpiresAt, family.id);
      return { outcome: "rotated", family: { ...family, accessExpiresAt }, token: fresh };
    });
  }

  async revokeRefreshFamily(
    familyId: string,
    now: UnixSeconds,
  ): Promise<RevocationRecord | undefined> {
    return await this.#transaction(() => {
      const exists = this.#db.prepare("SELECT 1 FROM refresh_families WHERE id = ?").get(familyId);
      return exists === undefined ? undefined : this.#revokeFamily(familyId, now);
    });
  }

  async addRevocation(
    kind: RevocationRecord["kind"],
    id: string,
    expiresAt: UnixSeconds,
  ): Promise<void> {
    await run(() => this.#recordRevocation(kind, id, expiresAt));
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

  async addClient(record: ClientRecord): Promise<void> {
    const result = await run(() =>
      this.#db
        .prepare(
          `INSERT INTO clients (client_id, name, secret_hash, redirect_uris,
           post_logout_redirect_uris, first_party, scope, grant_types, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(
          record.clientId,
          record.name,
          record.secretHash,
          JSON.stringify(record.redirectUris),
          JSON.stringify(record.postLogoutRedirectUris),
          record.firstParty ? 1 : 0,
          record.scope,
          JSON.stringify(record.grantTypes),
          record.createdAt,
        )
    );
    if (result.changes === 0) throw duplicateClient(record.clientId);
  }

  async getClient(clientId: string): Promise<ClientRecord | undefined> {
    return await run(() => {
      const row = this.#db.prepare("SELECT * FROM clients WHERE client_id = ?").get(clientId) as
        | Row
        | undefined;
      return row && toClient(row);
    });
  }

  async listClients(): Promise<ClientRecord[]> {
    return await run(() =>
      (this.#db.prepare("SELECT * FROM clients ORDER BY client_id").all() as Row[]).map(toClient)
    );
  }

  async removeClient(clientId: string): Promise<boolean> {
    return await this.#transaction(() => {
      this.#db.prepare("DELETE FROM consents WHERE client_id = ?").run(clientId);
      return this.#db.prepare("DELETE FROM clients WHERE client_id = ?").run(clientId).changes > 0;
    });
  }

  async setClientSecretHash(clientId: string, secretHash: string): Promise<boolean> {
    return await run(() =>
      this.#db.prepare("UPDATE clients SET secret_hash = ? WHERE client_id = ?")
        .run(secretHash, clientId).changes > 0
    );
  }

  async listIdTokenKeys(now: UnixSeconds): Promise<SigningKeyRecord[]> {
    return await run(() => {
      const rows = this.#db
        .prepare(
          `SELECT kid, alg, public_jwk, created_at, retires_at FROM id_token_keys
           WHERE retires_at IS NULL OR retires_at > ? ORDER BY created_at DESC, rowid DESC`,
        )
        .all(now) as Row[];
      return rows.map(toSigningKey);
    });
  }

  async ensureIdTokenKey(key: NewSigningKey, now: UnixSeconds): Promise<NewSigningKey> {
    return await this.#transaction(() => {
      const current = this.#db
        .prepare(
          `SELECT kid, alg, private_jwk, public_jwk, created_at, retires_at FROM id_token_keys
           WHERE retires_at IS NULL OR retires_at > ? ORDER BY created_at DESC, rowid DESC LIMIT 1`,
        )
        .get(now) as Row | undefined;
      if (current) return { ...toSigningKey(current), privateJwk: current.private_jwk as string };
      this.#db
        .prepare(
          `INSERT INTO id_token_keys (kid, alg, private_jwk, public_jwk, created_at, retires_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(key.kid, key.alg, key.privateJwk, key.publicJwk, key.createdAt, key.retiresAt);
      return key;
    });
  }

  async addPendingRequest(record: PendingRequestRecord): Promise<void> {
    await run(() =>
      this.#db
        .prepare(
          `INSERT INTO pending_requests (id, binding_hash, csrf_hash, action, created_at,
           expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(
          record.id,
          record.bindingHash,
          record.csrfHash,
          record.action,
          record.createdAt,
          record.expiresAt,
        )
    );
  }

  async getPendingRequest(
    id: string,
    now: UnixSeconds,
  ): Promise<PendingRequestRecord | undefined> {
    return await run(() => {
      const row = this.#db
        .prepare("SELECT * FROM pending_requests WHERE id = ? AND expires_at > ?")
        .get(id, now) as Row | undefined;
      return row && toPendingRequest(row);
    });
  }

  async takePendingRequest(
    id: string,
    now: UnixSeconds,
  ): Promise<PendingRequestRecord | undefined> {
    return await run(() => {
      const row = this.#db
        .prepare("DELETE FROM pending_requests WHERE id = ? AND expires_at > ? RETURNING *")
        .get(id, now) as Row | undefined;
      return row && toPendingRequest(row);
    });
  }

  async addAuthorizationCode(record: AuthorizationCodeRecord): Promise<void> {
    await run(() =>
      this.#db
        .prepare(
          `INSERT INTO authorization_codes (code_hash, client_id, username, redirect_uri, scope,
           code_challenge, nonce, auth_time, browser_sid, created_at, expires_at, used_at,
           family_id, replayed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          record.codeHash,
          record.clientId,
          record.username,
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
        )
    );
  }

  async useAuthorizationCode(codeHash: string, now: UnixSeconds): Promise<CodeOutcome> {
    return await this.#transaction((): CodeOutcome => {
      const read = () =>
        this.#db.prepare("SELECT * FROM authorization_codes WHERE code_hash = ?").get(
          codeHash,
        ) as Row | undefined;
      const row = read();
      if (!row) return { outcome: "unknown" };
      if (row.used_at !== null) {
        this.#db
          .prepare(
            "UPDATE authorization_codes SET replayed_at = ? WHERE code_hash = ? AND replayed_at IS NULL",
          )
          .run(now, codeHash);
        return { outcome: "reused", record: toAuthorizationCode(read()!) };
      }
      if ((row.expires_at as number) <= now) {
        return { outcome: "expired", record: toAuthorizationCode(row) };
      }
      this.#db.prepare("UPDATE authorization_codes SET used_at = ? WHERE code_hash = ?")
        .run(now, codeHash);
      return { outcome: "redeemed", record: toAuthorizationCode(read()!) };
    });
  }

  async attachCodeFamily(codeHash: string, familyId: string): Promise<{ replayed: boolean }> {
    return await run(() => {
      const row = this.#db
        .prepare(
          "UPDATE authorization_codes SET family_id = ? WHERE code_hash = ? RETURNING replayed_at",
        )
        .get(familyId, codeHash) as Row | undefined;
      return { replayed: row !== undefined && row.replayed_at !== null };
    });
  }

  async addBrowserSession(record: BrowserSessionRecord): Promise<void> {
    await run(() =>
      this.#db
        .prepare(
          `INSERT INTO browser_sessions (id_hash, sid, username, auth_time, created_at,
           idle_expires_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          record.idHash,
          record.sid,
          record.username,
          record.authTime,
          record.createdAt,
          record.idleExpiresAt,
          record.expiresAt,
        )
    );
  }

  async getBrowserSession(idHash: string): Promise<BrowserSessionRecord | undefined> {
    return await run(() => {
      const row = this.#db.prepare("SELECT * FROM browser_sessions WHERE id_hash = ?").get(
        idHash,
      ) as Row | undefined;
      return row && toBrowserSession(row);
    });
  }

  async touchBrowserSession(idHash: string, idleExpiresAt: UnixSeconds): Promise<boolean> {
    return await run(() =>
      this.#db.prepare("UPDATE browser_sessions SET idle_expires_at = ? WHERE id_hash = ?")
        .run(idleExpiresAt, idHash).changes > 0
    );
  }

  async linkSessionFamily(sid: string, familyId: string): Promise<boolean> {
    return await this.#transaction(() => {
      if (!this.#db.prepare("SELECT 1 FROM browser_sessions WHERE sid = ?").get(sid)) return false;
      this.#db
        .prepare(
          "INSERT INTO browser_session_families (sid, family_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .run(sid, familyId);
      return true;
    });
  }

  async endBrowserSession(sid: string): Promise<string[] | undefined> {
    return await this.#transaction(() => {
      const ended = this.#db.prepare("DELETE FROM browser_sessions WHERE sid = ?").run(sid);
      const rows = this.#db
        .prepare("DELETE FROM browser_session_families WHERE sid = ? RETURNING family_id")
        .all(sid) as Row[];
      return ended.changes > 0 ? rows.map((row) => row.family_id as string) : undefined;
    });
  }

  async getConsent(username: string, clientId: string): Promise<string | undefined> {
    return await run(() => {
      const row = this.#db
        .prepare("SELECT scope FROM consents WHERE username = ? AND client_id = ?")
        .get(username, clientId) as Row | undefined;
      return row?.scope as string | undefined;
    });
  }

  async saveConsent(
    username: string,
    clientId: string,
    scope: string,
    now: UnixSeconds,
  ): Promise<void> {
    await run(() =>
      this.#db
        .prepare(
          `INSERT INTO consents (username, client_id, scope, granted_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (username, client_id) DO UPDATE SET scope = excluded.scope,
             granted_at = excluded.granted_at`,
        )
        .run(username, clientId, scope, now)
    );
  }

  async pruneExpired(now: UnixSeconds): Promise<void> {
    await this.#transaction(() => {
      this.#db
        .prepare("DELETE FROM refresh_families WHERE expires_at <= ? AND access_expires_at <= ?")
        .run(now, now);
      this.#db.prepare("DELETE FROM refresh_tokens WHERE expires_at <= ?").run(now);
      this.#db.prepare("DELETE FROM revocations WHERE expires_at <= ?").run(now);
      this.#db.prepare("DELETE FROM throttle WHERE blocked_until <= ? AND window_start <= ?")
        .run(now, now - THROTTLE_RETENTION_SECONDS);
      this.#db.prepare("DELETE FROM pending_requests WHERE expires_at <= ?").run(now);
      this.#db.prepare("DELETE FROM authorization_codes WHERE expires_at <= ?")
        .run(now - CODE_RETENTION_SECONDS);
      this.#db
        .prepare("DELETE FROM browser_sessions WHERE expires_at <= ? OR idle_expires_at <= ?")
        .run(now, now);
      this.#db.exec(
        `DELETE FROM browser_session_families
         WHERE sid NOT IN (SELECT sid FROM browser_sessions)`,
      );
    });
  }

  async ping(): Promise<void> {
    await run(() => this.#db.prepare("SELECT 1").get());
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

  #readRefreshToken(tokenHash: string): RefreshTokenState | undefined {
    const row = this.#db
      .prepare(
        `SELECT t.token_hash, t.family_id, t.scope, t.created_at, t.expires_at, t.used_at,
           f.username, f.client_id, f.created_at AS family_created_at,
           f.expires_at AS family_expires_at, f.access_expires_at, f.revoked_at
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
         WHERE t.token_hash = ?`,
      )
      .get(tokenHash) as Row | undefined;
    return row && {
      token: {
        tokenHash: row.token_hash as string,
        familyId: row.family_id as string,
        scope: row.scope as string,
        createdAt: row.created_at as number,
        expiresAt: row.expires_at as number,
        usedAt: row.used_at as number | null,
      },
      family: {
        id: row.family_id as string,
        username: row.username as string,
        clientId: row.client_id as string,
        createdAt: row.family_created_at as number,
        expiresAt: row.family_expires_at as number,
        accessExpiresAt: row.access_expires_at as number,
        revokedAt: row.revoked_at as number | null,
      },
    };
  }

  #insertRefreshToken(token: RefreshTokenRecord): void {
    this.#db
      .prepare(
        `INSERT INTO refresh_tokens (token_hash, family_id, scope, created_at, expires_at, used_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(
        token.tokenHash,
        token.familyId,
        token.scope,
        token.createdAt,
        token.expiresAt,
        token.usedAt,
      );
  }

  /** Revokes a family (keeping an earlier revocation time) and records its `sid` revocation. */
  #revokeFamily(familyId: string, now: UnixSeconds): RevocationRecord {
    const row = this.#db
      .prepare(
        `UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?
         RETURNING access_expires_at`,
      )
      .get(now, familyId) as Row;
    return this.#recordRevocation("sid", familyId, row.access_expires_at as number);
  }

  /**
   * Revokes every live family of a user and ends the user's browser sessions; returns how many
   * were live sessions.
   */
  #endSessions(username: string, now: UnixSeconds): number {
    const revoked = this.#db
      .prepare(
        `UPDATE refresh_families SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL
         RETURNING id, expires_at, access_expires_at`,
      )
      .all(now, username) as Row[];
    let live = 0;
    for (const row of revoked) {
      const accessExpiresAt = row.access_expires_at as number;
      if (accessExpiresAt > now) this.#recordRevocation("sid", row.id as string, accessExpiresAt);
      if (accessExpiresAt > now || (row.expires_at as number) > now) live++;
    }
    const browsers = this.#db
      .prepare(
        "DELETE FROM browser_sessions WHERE username = ? RETURNING sid, idle_expires_at, expires_at",
      )
      .all(username) as Row[];
    for (const row of browsers) {
      this.#db.prepare("DELETE FROM browser_session_families WHERE sid = ?").run(row.sid as string);
      if ((row.idle_expires_at as number) > now && (row.expires_at as number) > now) live++;
    }
    return live;
  }

  #recordRevocation(
    kind: RevocationRecord["kind"],
    id: string,
    expiresAt: UnixSeconds,
  ): RevocationRecord {
    const row = this.#db
      .prepare(
        `INSERT INTO revocations (kind, id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
         RETURNING seq, expires_at`,
      )
      .get(kind, id, expiresAt) as Row;
    return { seq: row.seq as number, kind, id, expiresAt: row.expires_at as number };
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

function toClient(row: Row): ClientRecord {
  return {
    clientId: row.client_id as string,
    name: row.name as string | null,
    secretHash: row.secret_hash as string | null,
    redirectUris: JSON.parse(row.redirect_uris as string),
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris as string),
    firstParty: row.first_party === 1,
    scope: row.scope as string,
    grantTypes: JSON.parse(row.grant_types as string),
    createdAt: row.created_at as number,
  };
}

function toPendingRequest(row: Row): PendingRequestRecord {
  return {
    id: row.id as string,
    bindingHash: row.binding_hash as string,
    csrfHash: row.csrf_hash as string,
    action: row.action as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
}

function toAuthorizationCode(row: Row): AuthorizationCodeRecord {
  return {
    codeHash: row.code_hash as string,
    clientId: row.client_id as string,
    username: row.username as string,
    redirectUri: row.redirect_uri as string,
    scope: row.scope as string,
    codeChallenge: row.code_challenge as string,
    nonce: row.nonce as string | null,
    authTime: row.auth_time as number,
    browserSid: row.browser_sid as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
    usedAt: row.used_at as number | null,
    familyId: row.family_id as string | null,
    replayedAt: row.replayed_at as number | null,
  };
}

function toBrowserSession(row: Row): BrowserSessionRecord {
  return {
    idHash: row.id_hash as string,
    sid: row.sid as string,
    username: row.username as string,
    authTime: row.auth_time as number,
    createdAt: row.created_at as number,
    idleExpiresAt: row.idle_expires_at as number,
    expiresAt: row.expires_at as number,
  };
}
