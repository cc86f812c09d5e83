/**
 * @module
 * The store on PostgreSQL, for several instances serving as one, on the `postgres` client and
 * its connection pool. Migrations run at open under an advisory lock. A database that cannot be
 * reached is StoreFailure `unavailable`; every other failure keeps the driver's error.
 */
import postgres from "postgres";
import { DAY_SECONDS, unixNow, type UnixSeconds } from "../clock.ts";
import { duplicateClient, duplicateUser, storeUnavailable } from "./errors.ts";
import type { PostgresTls } from "./open.ts";
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

/** Schema versions, applied in order inside one transaction each. */
const MIGRATIONS = [
  `CREATE TABLE users (
     username TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE signing_keys (
     id BIGINT GENERATED ALWAYS AS IDENTITY,
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     retires_at BIGINT
   );
   CREATE TABLE throttle (
     key TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     window_start BIGINT NOT NULL,
     blocked_until BIGINT NOT NULL
   );
   CREATE TABLE refresh_tokens (
     token_hash TEXT PRIMARY KEY,
     family_id TEXT NOT NULL,
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     scope TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     used_at BIGINT,
     revoked_at BIGINT
   );
   CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
   CREATE TABLE revocations (
     seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     expires_at BIGINT NOT NULL,
     UNIQUE (kind, id)
   );`,
  // Every stored time in Unix seconds (users and throttle entries were in milliseconds).
  `UPDATE users SET created_at = created_at / 1000;
   UPDATE throttle SET window_start = window_start / 1000,
     blocked_until = (blocked_until + 999) / 1000;`,
  // Sessions get a row of their own (refresh_families), the one place their state lives; see
  // the same step of the SQLite store for how existing tokens become families.
  `CREATE TABLE refresh_families (
     id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     access_expires_at BIGINT NOT NULL,
     revoked_at BIGINT
   );
   CREATE INDEX refresh_families_username ON refresh_families (username);
   LOCK TABLE revocations IN SHARE ROW EXCLUSIVE MODE;
   INSERT INTO revocations (kind, id, expires_at)
     SELECT 'sid', family_id, max(expires_at) FROM refresh_tokens
     GROUP BY family_id
     HAVING max(expires_at) > extract(epoch FROM now())::bigint AND (
       (count(revoked_at) > 0 AND count(revoked_at) < count(*))
       OR min(username) NOT IN (SELECT username FROM users))
     ON CONFLICT (kind, id) DO UPDATE
       SET expires_at = GREATEST(revocations.expires_at, excluded.expires_at);
   INSERT INTO refresh_families
     (id, username, client_id, created_at, expires_at, access_expires_at, revoked_at)
     SELECT family_id, min(username), min(client_id), min(created_at), max(expires_at),
       max(expires_at), coalesce(max(revoked_at),
         CASE WHEN min(username) NOT IN (SELECT username FROM users)
           THEN extract(epoch FROM now())::bigint END)
     FROM refresh_tokens GROUP BY family_id;
   ALTER TABLE refresh_tokens
     DROP COLUMN username,
     DROP COLUMN client_id,
     DROP COLUMN revoked_at,
     ADD FOREIGN KEY (family_id) REFERENCES refresh_families (id) ON DELETE CASCADE;`,
  // Secrets the service makes for itself, such as the key that signs device tokens.
  `CREATE TABLE secrets (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     created_at BIGINT NOT NULL
   );`,
  // Private keys only while current; demo users marked.
  `ALTER TABLE signing_keys ALTER COLUMN private_jwk DROP NOT NULL;
   UPDATE signing_keys SET private_jwk = NULL WHERE retires_at IS NOT NULL;
   ALTER TABLE users ADD COLUMN demo BOOLEAN NOT NULL DEFAULT false;`,
  // Sign-in from browsers and other apps: registered clients, ID-token keys, pending steps,
  // authorization codes, browser sessions with the families issued in them, and consents.
  `CREATE TABLE clients (
     client_id TEXT PRIMARY KEY,
     name TEXT,
     secret_hash TEXT,
     redirect_uris TEXT NOT NULL,
     post_logout_redirect_uris TEXT NOT NULL,
     first_party BOOLEAN NOT NULL,
     scope TEXT NOT NULL,
     grant_types TEXT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE id_token_keys (
     id BIGINT GENERATED ALWAYS AS IDENTITY,
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     retires_at BIGINT
   );
   CREATE TABLE pending_requests (
     id TEXT PRIMARY KEY,
     binding_hash TEXT NOT NULL,
     csrf_hash TEXT NOT NULL,
     action TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE TABLE authorization_codes (
     code_hash TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     username TEXT NOT NULL,
     redirect_uri TEXT NOT NULL,
     scope TEXT NOT NULL,
     code_challenge TEXT NOT NULL,
     nonce TEXT,
     auth_time BIGINT NOT NULL,
     browser_sid TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     used_at BIGINT,
     family_id TEXT,
     replayed_at BIGINT
   );
   CREATE TABLE browser_sessions (
     id_hash TEXT PRIMARY KEY,
     sid TEXT NOT NULL UNIQUE,
     username TEXT NOT NULL,
     auth_time BIGINT NOT NULL,
     created_at BIGINT NOT NULL,
     idle_expires_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX browser_sessions_username ON browser_sessions (username);
   CREATE TABLE browser_session_families (
     sid TEXT NOT NULL,
     family_id TEXT NOT NULL,
     PRIMARY KEY (sid, family_id)
   );
   CREATE TABLE consents (
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     scope TEXT NOT NULL,
     granted_at BIGINT NOT NULL,
     PRIMARY KEY (username, client_id)
   );`,
];

/** The iteration count of a PHC PBKDF2 hash, as a POSIX regular expression with one group. */
const PBKDF2_ITERATIONS = String.raw`^\$pbkdf2-sha256\$i=([0-9]{1,15})\$`;

/**
 * The client's own defaults, given here so that it takes none of them from PG* environment
 * variables (it still reads PGAPPNAME, PGTARGETSESSIONATTRS, and PGPASSWORD when the URL has no
 * password). `debug` stays off: it would attach queries and their parameters to errors.
 */
const CLIENT_DEFAULTS = {
  sslnegotiation: null,
  // Connections are replaced after 30 to 60 minutes, as the client does by default.
  max_lifetime: 60 * (30 + Math.random() * 30),
  max_pipeline: 100,
  keep_alive: 60,
  prepare: true,
  debug: false,
  fetch_types: true,
  publications: "alltables",
  target_session_attrs: undefined,
} as const;

/** Connections each instance keeps at most. */
const DEFAULT_MAX_CONNECTIONS = 10;
/** Throttle entries untouched for this long carry no information and are pruned. */
const THROTTLE_RETENTION_SECONDS = DAY_SECONDS;
/** Used authorization codes are kept this long past their expiry, so a replay is still seen. */
const CODE_RETENTION_SECONDS = DAY_SECONDS;

/** Advisory lock keys: migrations, the first signing key, the first ID-token key. */
const MIGRATION_LOCK = 7_244_001;
const SIGNING_KEY_LOCK = 7_244_002;
const ID_TOKEN_KEY_LOCK = 7_244_004;
/**
 * First half of the two-part advisory locks of throttle keys (the second is a hash of the key).
 * Two-part locks never collide with the one-part locks above.
 */
const THROTTLE_LOCK_CLASS = 7_244_003;

/** SQLSTATE classes and client error codes that mean "the database cannot be reached now". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
]);

type Sql = postgres.Sql;
type Row = postgres.Row;

/**
 * The shared store.
 *
 * @example
 * ```ts
 * const store = await PostgresStore.open("postgres://auth@db.internal/auth");
 * ```
 */
export class PostgresStore implements Store {
  #sql: Sql;

  private constructor(sql: Sql) {
    this.#sql = sql;
  }

  /**
   * Connects, applies pending migrations and returns the store. `tls` is what the URL's
   * `sslmode` asks for (see open.ts); without it the connection is cleartext. With `readOnly`,
   * nothing is migrated and the server refuses every write (see {@linkcode pendingMigrations}).
   */
  static async open(
    url: string,
    options: { maxConnections?: number; tls?: PostgresTls; readOnly?: boolean } = {},
  ): Promise<PostgresStore> {
    const sql = postgres(url, {
      ...CLIENT_DEFAULTS,
      max: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      ssl: options.tls ?? false,
      onnotice: () => {},
      connect_timeout: 5,
      idle_timeout: 60,
      // The client's default reconnect backoff grows to 20 s after a few failed attempts (shared
      // by the pool), so queries would wait that long while the database is down and after it is
      // back; capped at 0.5 s they fail fast (503) and recover quickly.
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
      transform: { undefined: null },
      // Read-only: the server refuses every write of the session, and nothing is migrated.
      ...(options.readOnly && { connection: { default_transaction_read_only: true } }),
    });
    const store = new PostgresStore(sql);
    try {
      // Read-only, it still connects here, so that an unreachable server fails the open.
      if (options.readOnly) await store.pendingMigrations();
      else await store.#run(() => migrate(sql));
    } catch (error) {
      await sql.end({ timeout: 1 });
      throw error;
    }
    return store;
  }

  /** How many schema versions the database lacks: more than 0 only when opened `readOnly`. */
  pendingMigrations(): Promise<number> {
    return this.#run(async () => {
      const [{ exists }] = await this.#sql`
        SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`;
      if (!exists) return MIGRATIONS.length;
      const [{ applied }] = await this.#sql`SELECT count(*)::int AS applied FROM schema_migrations`;
      return Math.max(0, MIGRATIONS.length - applied);
    });
  }

  getUser(username: string): Promise<UserRecord | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`
        SELECT username, password_hash, created_at FROM users WHERE username = ${username}`;
      return row && {
        username: row.username,
        passwordHash: row.password_hash,
        createdAt: Number(row.created_at),
      };
    });
  }

  addUser(
    username: string,
    passwordHash: string,
    options: { demo?: boolean } = {},
  ): Promise<void> {
    return this.#run(async () => {
      const rows = await this.#sql`
        INSERT INTO users (username, password_hash, created_at, demo)
        VALUES (${username}, ${passwordHash}, ${unixNow()}, ${options.demo ?? false})
        ON CONFLICT DO NOTHING RETURNING username`;
      if (rows.length === 0) throw duplicateUser(username);
    });
  }

  replacePasswordHash(username: string, expected: string, passwordHash: string): Promise<boolean> {
    return this.#run(async () => {
      const result = await this.#sql`
        UPDATE users SET password_hash = ${passwordHash}
        WHERE username = ${username} AND password_hash = ${expected}`;
      return result.count > 0;
    });
  }

  changePassword(
    username: string,
    passwordHash: string,
    now: UnixSeconds,
  ): Promise<AccountChange> {
    return this.#accountChange(username, now, (sql) =>
      sql`
        UPDATE users SET password_hash = ${passwordHash}, demo = false
        WHERE username = ${username} RETURNING username`);
  }

  removeUser(username: string, now: UnixSeconds): Promise<AccountChange> {
    return this.#accountChange(
      username,
      now,
      (sql) => sql`DELETE FROM users WHERE username = ${username} RETURNING username`,
    );
  }

  endUserSessions(username: string, now: UnixSeconds): Promise<AccountChange> {
    return this.#accountChange(
      username,
      now,
      (sql) => sql`SELECT username FROM users WHERE username = ${username} FOR UPDATE`,
    );
  }

  listUsers(): Promise<string[]> {
    return this.#run(async () => {
      const rows = await this.#sql`SELECT username FROM users ORDER BY username COLLATE "C"`;
      return rows.map((row) => row.username);
    });
  }

  listDemoUsers(): Promise<string[]> {
    return this.#run(async () => {
      const rows = await this.#sql`
        SELECT username FROM users WHERE demo ORDER BY username COLLATE "C"`;
      return rows.map((row) => row.username);
    });
  }

  countPasswordIterations(): Promise<Map<number, number>> {
    return this.#run(async () => {
      const rows = await this.#sql`
        SELECT substring(password_hash FROM ${PBKDF2_ITERATIONS}) AS i, count(*) AS users
        FROM users WHERE password_hash ~ ${PBKDF2_ITERATIONS} GROUP BY i`;
      return new Map(rows.map((row) => [Number(row.i), Number(row.users)]));
    });
  }

  listSigningKeys(now: UnixSeconds): Promise<SigningKeyRecord[]> {
    return this.#run(async () => {
      const rows = await this.#sql`
        SELECT kid, alg, public_jwk, created_at, retires_at FROM signing_keys
        WHERE retires_at IS NULL OR retires_at > ${now} ORDER BY created_at DESC, id DESC`;
      return rows.map(toSigningKey);
    });
  }

  currentPrivateJwk(kid: string): Promise<string | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`
        SELECT private_jwk FROM signing_keys WHERE kid = ${kid} AND retires_at IS NULL`;
      return row?.private_jwk ?? undefined;
    });
  }

  rotateSigningKey(
    key: NewSigningKey,
    retireOthersAt: UnixSeconds,
    now: UnixSeconds,
  ): Promise<void> {
    return this.#run(async () => {
      await this.#sql.begin(async (sql) => {
        await sql`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
        await sql`DELETE FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at <= ${now}`;
        await sql`
          UPDATE signing_keys SET retires_at = ${retireOthersAt}, private_jwk = NULL
          WHERE retires_at IS NULL`;
        await insertKey(sql, key);
      });
    });
  }

  ensureSigningKey(key: NewSigningKey, now: UnixSeconds): Promise<SigningKeyRecord> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        await sql`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
        const [current] = await sql`
          SELECT kid, alg, public_jwk, created_at, retires_at FROM signing_keys
          WHERE retires_at IS NULL OR retires_at > ${now}
          ORDER BY created_at DESC, id DESC LIMIT 1`;
        if (current) return toSigningKey(current);
        await insertKey(sql, key);
        return publicHalf(key);
      });
    });
  }

  revokeSigningKey(kid: string, replacement: NewSigningKey): Promise<KeyRevocation> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql): Promise<KeyRevocation> => {
        await sql`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
        const [row] = await sql`DELETE FROM signing_keys WHERE kid = ${kid} RETURNING retires_at`;
        if (!row) return "unknown";
        if (row.retires_at !== null) return "retiring";
        await insertKey(sql, replacement);
        return "current";
      });
    });
  }

  updateThrottles<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, ThrottleRecord>) => ThrottleDecision<T>,
  ): Promise<T> {
    const unique = [...new Set(keys)];
    // One transaction-scoped advisory lock per key, taken in ascending order so that two calls
    // never wait on each other in a cycle. Unlike row locks they also cover keys that have no
    // row yet and rows another call deletes, and every instance on this database honours them.
    const locks = [...new Set(unique.map(throttleLockId))].sort((a, b) => a - b);
    return this.#run(async () => {
      // Wrapped: begin() would unwrap a result that is an array of queries.
      const outcome = await this.#sql.begin(async (sql) => {
        // Sent together (pipelined); the server runs them in order, so the read follows the locks.
        const results = await Promise.all([
          ...locks.map((id) => sql`SELECT pg_advisory_xact_lock(${THROTTLE_LOCK_CLASS}, ${id})`),
          sql`
            SELECT key, failures, window_start, blocked_until FROM throttle
            WHERE key IN ${sql(unique)}`,
        ]);
        const rows = results[results.length - 1];
        const current = new Map<string, ThrottleRecord>();
        for (const row of rows) current.set(row.key, toThrottle(row));
        const { writes, result } = decide(current);
        const entries = Object.entries(writes);
        for (const [key] of entries) {
          if (!unique.includes(key)) throw new Error(`Throttle key "${key}" was not read first`);
        }
        await Promise.all(
          entries.map(([key, record]) =>
            record === null ? sql`DELETE FROM throttle WHERE key = ${key}` : sql`
            INSERT INTO throttle (key, failures, window_start, blocked_until)
            VALUES (${key}, ${record.failures}, ${record.windowStartAt}, ${record.blockedUntil})
            ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
              window_start = excluded.window_start, blocked_until = excluded.blocked_until`
          ),
        );
        return { result };
      });
      return outcome.result;
    });
  }

  ensureSecret(name: string, candidate: string): Promise<string> {
    return this.#run(async () => {
      await this.#sql`
        INSERT INTO secrets (name, value, created_at) VALUES (${name}, ${candidate}, ${unixNow()})
        ON CONFLICT DO NOTHING`;
      const [row] = await this.#sql`SELECT value FROM secrets WHERE name = ${name}`;
      return row.value;
    });
  }

  startRefreshFamily(
    family: RefreshFamilyRecord,
    token: RefreshTokenRecord,
    passwordHash: string,
  ): Promise<boolean> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        // The share lock makes a concurrent password change or removal wait for this session
        // to exist (and then end it), or this insert wait for the change (and then find the
        // password no longer current).
        const [current] = await sql`
          SELECT 1 FROM users WHERE username = ${family.username}
            AND password_hash = ${passwordHash}
          FOR SHARE`;
        if (!current) return false;
        await sql`
          INSERT INTO refresh_families (id, username, client_id, created_at, expires_at,
            access_expires_at, revoked_at)
          VALUES (${family.id}, ${family.username}, ${family.clientId}, ${family.createdAt},
            ${family.expiresAt}, ${family.accessExpiresAt}, ${family.revokedAt})`;
        await insertRefreshToken(sql, token);
        return true;
      });
    });
  }

  getRefreshToken(tokenHash: string): Promise<RefreshTokenState | undefined> {
    return this.#run(async () => {
      const [row] = await selectRefreshToken(this.#sql, tokenHash);
      return row && toRefreshTokenState(row);
    });
  }

  rotateRefreshToken(
    tokenHash: string,
    now: UnixSeconds,
    next: (current: RefreshTokenState) => NewRefreshToken,
  ): Promise<RotationResult> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql): Promise<RotationResult> => {
        // Every change to a family's tokens first locks the family's row, so a rotation and a
        // revocation of the same family take turns; what is read after the lock is current.
        const [located] = await sql`
          SELECT family_id FROM refresh_tokens WHERE token_hash = ${tokenHash}`;
        if (!located) return { outcome: "unknown" };
        await sql`SELECT 1 FROM refresh_families WHERE id = ${located.family_id} FOR UPDATE`;
        const [row] = await selectRefreshToken(sql, tokenHash);
        if (!row) return { outcome: "unknown" };
        const current = toRefreshTokenState(row);
        const { token, family } = current;
        if (family.revokedAt !== null) return { outcome: "revoked", family };
        if (token.usedAt !== null) {
          const revocation = await revokeFamily(sql, family.id, now);
          return { outcome: "reused", family: { ...family, revokedAt: now }, revocation };
        }
        if (token.expiresAt <= now || family.expiresAt <= now) {
          return { outcome: "expired", family };
        }
        const wanted = next(current);
        const fresh: RefreshTokenRecord = {
          tokenHash: wanted.tokenHash,
          familyId: family.id,
          scope: wanted.scope,
          createdAt: now,
          expiresAt: Math.min(wanted.expiresAt, family.expiresAt),
          usedAt: null,
        };
        await sql`UPDATE refresh_tokens SET used_at = ${now} WHERE token_hash = ${tokenHash}`;
        await insertRefreshToken(sql, fresh);
        const accessExpiresAt = Math.max(family.accessExpiresAt, wanted.accessExpiresAt);
        await sql`
          UPDATE refresh_families SET access_expires_at = ${accessExpiresAt}
          WHERE id = ${family.id}`;
        return { outcome: "rotated", family: { ...family, accessExpiresAt }, token: fresh };
      });
    });
  }

  revokeRefreshFamily(familyId: string, now: UnixSeconds): Promise<RevocationRecord | undefined> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        const [family] = await sql`
          SELECT 1 FROM refresh_families WHERE id = ${familyId} FOR UPDATE`;
        return family ? await revokeFamily(sql, familyId, now) : undefined;
      });
    });
  }

  addRevocation(kind: RevocationRecord["kind"], id: string, expiresAt: UnixSeconds): Promise<void> {
    return this.#run(async () => {
      await this.#sql.begin(async (sql) => {
        await recordRevocation(sql, kind, id, expiresAt);
      });
    });
  }

  listRevocations(afterSeq: number, now: UnixSeconds): Promise<RevocationRecord[]> {
    return this.#run(async () => {
      const rows = await this.#sql`
        SELECT seq, kind, id, expires_at FROM revocations
        WHERE seq > ${afterSeq} AND expires_at > ${now} ORDER BY seq`;
      return rows.map((row) => ({
        seq: Number(row.seq),
        kind: row.kind,
        id: row.id,
        expiresAt: Number(row.expires_at),
      }));
    });
  }

  addClient(record: ClientRecord): Promise<void> {
    return this.#run(async () => {
      const rows = await this.#sql`
        INSERT INTO clients (client_id, name, secret_hash, redirect_uris,
          post_logout_redirect_uris, first_party, scope, grant_types, created_at)
        VALUES (${record.clientId}, ${record.name}, ${record.secretHash},
          ${JSON.stringify(record.redirectUris)}, ${JSON.stringify(record.postLogoutRedirectUris)},
          ${record.firstParty}, ${record.scope}, ${JSON.stringify(record.grantTypes)},
          ${record.createdAt})
        ON CONFLICT DO NOTHING RETURNING client_id`;
      if (rows.length === 0) throw duplicateClient(record.clientId);
    });
  }

  getClient(clientId: string): Promise<ClientRecord | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`SELECT * FROM clients WHERE client_id = ${clientId}`;
      return row && toClient(row);
    });
  }

  listClients(): Promise<ClientRecord[]> {
    return this.#run(async () => {
      const rows = await this.#sql`SELECT * FROM clients ORDER BY client_id COLLATE "C"`;
      return rows.map(toClient);
    });
  }

  removeClient(clientId: string): Promise<boolean> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        await sql`DELETE FROM consents WHERE client_id = ${clientId}`;
        const result = await sql`DELETE FROM clients WHERE client_id = ${clientId}`;
        return result.count > 0;
      });
    });
  }

  setClientSecretHash(clientId: string, secretHash: string): Promise<boolean> {
    return this.#run(async () => {
      const result = await this.#sql`
        UPDATE clients SET secret_hash = ${secretHash} WHERE client_id = ${clientId}`;
      return result.count > 0;
    });
  }

  listIdTokenKeys(now: UnixSeconds): Promise<SigningKeyRecord[]> {
    return this.#run(async () => {
      const rows = await this.#sql`
        SELECT kid, alg, public_jwk, created_at, retires_at FROM id_token_keys
        WHERE retires_at IS NULL OR retires_at > ${now} ORDER BY created_at DESC, id DESC`;
      return rows.map(toSigningKey);
    });
  }

  ensureIdTokenKey(key: NewSigningKey, now: UnixSeconds): Promise<NewSigningKey> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        await sql`SELECT pg_advisory_xact_lock(${ID_TOKEN_KEY_LOCK})`;
        const [current] = await sql`
          SELECT kid, alg, private_jwk, public_jwk, created_at, retires_at FROM id_token_keys
          WHERE retires_at IS NULL OR retires_at > ${now}
          ORDER BY created_at DESC, id DESC LIMIT 1`;
        if (current) return { ...toSigningKey(current), privateJwk: current.private_jwk };
        await sql`
          INSERT INTO id_token_keys (kid, alg, private_jwk, public_jwk, created_at, retires_at)
          VALUES (${key.kid}, ${key.alg}, ${key.privateJwk}, ${key.publicJwk}, ${key.createdAt},
            ${key.retiresAt})`;
        return key;
      });
    });
  }

  addPendingRequest(record: PendingRequestRecord): Promise<void> {
    return this.#run(async () => {
      await this.#sql`
        INSERT INTO pending_requests (id, binding_hash, csrf_hash, action, created_at, expires_at)
        VALUES (${record.id}, ${record.bindingHash}, ${record.csrfHash}, ${record.action},
          ${record.createdAt}, ${record.expiresAt})`;
    });
  }

  getPendingRequest(id: string, now: UnixSeconds): Promise<PendingRequestRecord | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`
        SELECT * FROM pending_requests WHERE id = ${id} AND expires_at > ${now}`;
      return row && toPendingRequest(row);
    });
  }

  takePendingRequest(id: string, now: UnixSeconds): Promise<PendingRequestRecord | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`
        DELETE FROM pending_requests WHERE id = ${id} AND expires_at > ${now} RETURNING *`;
      return row && toPendingRequest(row);
    });
  }

  addAuthorizationCode(record: AuthorizationCodeRecord): Promise<void> {
    return this.#run(async () => {
      await this.#sql`
        INSERT INTO authorization_codes (code_hash, client_id, username, redirect_uri, scope,
          code_challenge, nonce, auth_time, browser_sid, created_at, expires_at, used_at,
          family_id, replayed_at)
        VALUES (${record.codeHash}, ${record.clientId}, ${record.username},
          ${record.redirectUri}, ${record.scope}, ${record.codeChallenge}, ${record.nonce},
          ${record.authTime}, ${record.browserSid}, ${record.createdAt}, ${record.expiresAt},
          ${record.usedAt}, ${record.familyId}, ${record.replayedAt})`;
    });
  }

  useAuthorizationCode(codeHash: string, now: UnixSeconds): Promise<CodeOutcome> {
    return this.#run(async () => {
      const [redeemed] = await this.#sql`
        UPDATE authorization_codes SET used_at = ${now}
        WHERE code_hash = ${codeHash} AND used_at IS NULL AND expires_at > ${now}
        RETURNING *`;
      if (redeemed) return { outcome: "redeemed", record: toAuthorizationCode(redeemed) };
      const [replayed] = await this.#sql`
        UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, ${now})
        WHERE code_hash = ${codeHash} AND used_at IS NOT NULL
        RETURNING *`;
      if (replayed) return { outcome: "reused", record: toAuthorizationCode(replayed) };
      const [row] = await this.#sql`
        SELECT * FROM authorization_codes WHERE code_hash = ${codeHash}`;
      // A code is never unmarked used, so what is left is unknown or expired unused.
      if (!row) return { outcome: "unknown" };
      return { outcome: "expired", record: toAuthorizationCode(row) };
    });
  }

  attachCodeFamily(codeHash: string, familyId: string): Promise<{ replayed: boolean }> {
    return this.#run(async () => {
      const [row] = await this.#sql`
        UPDATE authorization_codes SET family_id = ${familyId} WHERE code_hash = ${codeHash}
        RETURNING replayed_at`;
      return { replayed: row !== undefined && row.replayed_at !== null };
    });
  }

  addBrowserSession(record: BrowserSessionRecord): Promise<void> {
    return this.#run(async () => {
      await this.#sql`
        INSERT INTO browser_sessions (id_hash, sid, username, auth_time, created_at,
          idle_expires_at, expires_at)
        VALUES (${record.idHash}, ${record.sid}, ${record.username}, ${record.authTime},
          ${record.createdAt}, ${record.idleExpiresAt}, ${record.expiresAt})`;
    });
  }

  getBrowserSession(idHash: string): Promise<BrowserSessionRecord | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`SELECT * FROM browser_sessions WHERE id_hash = ${idHash}`;
      return row && toBrowserSession(row);
    });
  }

  touchBrowserSession(idHash: string, idleExpiresAt: UnixSeconds): Promise<boolean> {
    return this.#run(async () => {
      const result = await this.#sql`
        UPDATE browser_sessions SET idle_expires_at = ${idleExpiresAt} WHERE id_hash = ${idHash}`;
      return result.count > 0;
    });
  }

  linkSessionFamily(sid: string, familyId: string): Promise<boolean> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        // The share lock waits for a concurrent endBrowserSession, which then finds this link.
        const [session] = await sql`
          SELECT 1 FROM browser_sessions WHERE sid = ${sid} FOR SHARE`;
        if (!session) return false;
        await sql`
          INSERT INTO browser_session_families (sid, family_id) VALUES (${sid}, ${familyId})
          ON CONFLICT DO NOTHING`;
        return true;
      });
    });
  }

  endBrowserSession(sid: string): Promise<string[] | undefined> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        const ended = await sql`DELETE FROM browser_sessions WHERE sid = ${sid}`;
        const rows = await sql`
          DELETE FROM browser_session_families WHERE sid = ${sid} RETURNING family_id`;
        return ended.count > 0 ? rows.map((row) => row.family_id as string) : undefined;
      });
    });
  }

  getConsent(username: string, clientId: string): Promise<string | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`
        SELECT scope FROM consents WHERE username = ${username} AND client_id = ${clientId}`;
      return row?.scope;
    });
  }

  saveConsent(username: string, clientId: string, scope: string, now: UnixSeconds): Promise<void> {
    return this.#run(async () => {
      await this.#sql`
        INSERT INTO consents (username, client_id, scope, granted_at)
        VALUES (${username}, ${clientId}, ${scope}, ${now})
        ON CONFLICT (username, client_id) DO UPDATE
          SET scope = excluded.scope, granted_at = excluded.granted_at`;
    });
  }

  pruneExpired(now: UnixSeconds): Promise<void> {
    return this.#run(async () => {
      await this.#sql.begin(async (sql) => {
        // Families before tokens: the order in which rotations lock them.
        await sql`
          DELETE FROM refresh_families WHERE expires_at <= ${now}
            AND access_expires_at <= ${now}`;
        await sql`DELETE FROM refresh_tokens WHERE expires_at <= ${now}`;
        await sql`DELETE FROM revocations WHERE expires_at <= ${now}`;
        await sql`
          DELETE FROM throttle WHERE blocked_until <= ${now}
            AND window_start <= ${now - THROTTLE_RETENTION_SECONDS}`;
        await sql`DELETE FROM pending_requests WHERE expires_at <= ${now}`;
        await sql`
          DELETE FROM authorization_codes WHERE expires_at <= ${now - CODE_RETENTION_SECONDS}`;
        await sql`
          DELETE FROM browser_sessions WHERE expires_at <= ${now} OR idle_expires_at <= ${now}`;
        await sql`
          DELETE FROM browser_session_families f
          WHERE NOT EXISTS (SELECT 1 FROM browser_sessions s WHERE s.sid = f.sid)`;
      });
    });
  }

  ping(): Promise<void> {
    return this.#run(async () => {
      await this.#sql`SELECT 1`;
    });
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }

  /**
   * Runs `change` on the user's row (returning it when the user exists) and, in the same
   * transaction, ends the user's sessions. The user's row is locked first, then the families,
   * then the revocations: the order every other transaction keeps.
   */
  #accountChange(
    username: string,
    now: UnixSeconds,
    change: (sql: postgres.TransactionSql) => Promise<Row[]>,
  ): Promise<AccountChange> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        const found = (await change(sql)).length > 0;
        return { found, sessionsEnded: found ? await endSessions(sql, username, now) : 0 };
      });
    });
  }

  /** Runs a query, turning connection failures into `unavailable`. */
  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw isUnavailable(error) ? storeUnavailable(error) : error;
    }
  }
}

async function migrate(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`;
    const applied = new Set(
      (await tx`SELECT version FROM schema_migrations`).map((row) => row.version as number),
    );
    for (const [index, migration] of MIGRATIONS.entries()) {
      const version = index + 1;
      if (applied.has(version)) continue;
      await tx.unsafe(migration);
      await tx`INSERT INTO schema_migrations (version) VALUES (${version})`;
    }
  });
}

async function insertKey(sql: postgres.TransactionSql, key: NewSigningKey): Promise<void> {
  await sql`
    INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retires_at)
    VALUES (${key.kid}, ${key.alg}, ${key.privateJwk}, ${key.publicJwk}, ${key.createdAt},
      ${key.retiresAt})`;
}

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"));
}

function toSigningKey(row: Row): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    createdAt: Number(row.created_at),
    retiresAt: row.retires_at === null ? null : Number(row.retires_at),
  };
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

function toThrottle(row: Row): ThrottleRecord {
  return {
    failures: row.failures,
    windowStartAt: Number(row.window_start),
    blockedUntil: Number(row.blocked_until),
  };
}

function selectRefreshToken(sql: Sql | postgres.TransactionSql, tokenHash: string) {
  return sql`
    SELECT t.token_hash, t.family_id, t.scope, t.created_at, t.expires_at, t.used_at,
      f.username, f.client_id, f.created_at AS family_created_at,
      f.expires_at AS family_expires_at, f.access_expires_at, f.revoked_at
    FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
    WHERE t.token_hash = ${tokenHash}`;
}

function toRefreshTokenState(row: Row): RefreshTokenState {
  return {
    token: {
      tokenHash: row.token_hash,
      familyId: row.family_id,
      scope: row.scope,
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      usedAt: row.used_at === null ? null : Number(row.used_at),
    },
    family: {
      id: row.family_id,
      username: row.username,
      clientId: row.client_id,
      createdAt: Number(row.family_created_at),
      expiresAt: Number(row.family_expires_at),
      accessExpiresAt: Number(row.access_expires_at),
      revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    },
  };
}

async function insertRefreshToken(
  sql: postgres.TransactionSql,
  token: RefreshTokenRecord,
): Promise<void> {
  await sql`
    INSERT INTO refresh_tokens (token_hash, family_id, scope, created_at, expires_at, used_at)
    VALUES (${token.tokenHash}, ${token.familyId}, ${token.scope}, ${token.createdAt},
      ${token.expiresAt}, ${token.usedAt})`;
}

/**
 * Revokes a family whose row the transaction has locked (keeping an earlier revocation time) and
 * records its `sid` revocation.
 */
async function revokeFamily(
  sql: postgres.TransactionSql,
  familyId: string,
  now: UnixSeconds,
): Promise<RevocationRecord> {
  const [family] = await sql`
    UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ${now}) WHERE id = ${familyId}
    RETURNING access_expires_at`;
  return await recordRevocation(sql, "sid", familyId, Number(family.access_expires_at));
}

/**
 * Revokes every live family of a user and ends the user's browser sessions (after the families:
 * the order in which sign-out locks them); returns how many were live sessions.
 */
async function endSessions(
  sql: postgres.TransactionSql,
  username: string,
  now: UnixSeconds,
): Promise<number> {
  const revoked = await sql`
    UPDATE refresh_families SET revoked_at = ${now}
    WHERE username = ${username} AND revoked_at IS NULL
    RETURNING id, expires_at, access_expires_at`;
  let live = 0;
  for (const row of revoked) {
    const accessExpiresAt = Number(row.access_expires_at);
    if (accessExpiresAt > now) await recordRevocation(sql, "sid", row.id, accessExpiresAt);
    if (accessExpiresAt > now || Number(row.expires_at) > now) live++;
  }
  // Sessions before their links, as endBrowserSession deletes them.
  const browsers = await sql`
    DELETE FROM browser_sessions WHERE username = ${username}
    RETURNING sid, idle_expires_at, expires_at`;
  if (browsers.length > 0) {
    await sql`
      DELETE FROM browser_session_families WHERE sid = ANY(${browsers.map((row) => row.sid)})`;
  }
  for (const row of browsers) {
    if (Number(row.idle_expires_at) > now && Number(row.expires_at) > now) live++;
  }
  return live;
}

async function recordRevocation(
  sql: postgres.TransactionSql,
  kind: RevocationRecord["kind"],
  id: string,
  expiresAt: UnixSeconds,
): Promise<RevocationRecord> {
  // Writers take turns so that sequence numbers become visible in order: a reader that has seen
  // number n can never later find a smaller one committed.
  await sql`LOCK TABLE revocations IN SHARE ROW EXCLUSIVE MODE`;
  const [row] = await sql`
    INSERT INTO revocations (kind, id, expires_at) VALUES (${kind}, ${id}, ${expiresAt})
    ON CONFLICT (kind, id) DO UPDATE
      SET expires_at = GREATEST(revocations.expires_at, excluded.expires_at)
    RETURNING seq, expires_at`;
  return { seq: Number(row.seq), kind, id, expiresAt: Number(row.expires_at) };
}

function toClient(row: Row): ClientRecord {
  return {
    clientId: row.client_id,
    name: row.name,
    secretHash: row.secret_hash,
    redirectUris: JSON.parse(row.redirect_uris),
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris),
    firstParty: row.first_party,
    scope: row.scope,
    grantTypes: JSON.parse(row.grant_types),
    createdAt: Number(row.created_at),
  };
}

function toPendingRequest(row: Row): PendingRequestRecord {
  return {
    id: row.id,
    bindingHash: row.binding_hash,
    csrfHash: row.csrf_hash,
    action: row.action,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

function toAuthorizationCode(row: Row): AuthorizationCodeRecord {
  return {
    codeHash: row.code_hash,
    clientId: row.client_id,
    username: row.username,
    redirectUri: row.redirect_uri,
    scope: row.scope,
    codeChallenge: row.code_challenge,
    nonce: row.nonce,
    authTime: Number(row.auth_time),
    browserSid: row.browser_sid,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: row.used_at === null ? null : Number(row.used_at),
    familyId: row.family_id,
    replayedAt: row.replayed_at === null ? null : Number(row.replayed_at),
  };
}

function toBrowserSession(row: Row): BrowserSessionRecord {
  return {
    idHash: row.id_hash,
    sid: row.sid,
    username: row.username,
    authTime: Number(row.auth_time),
    createdAt: Number(row.created_at),
    idleExpiresAt: Number(row.idle_expires_at),
    expiresAt: Number(row.expires_at),
  };
}
