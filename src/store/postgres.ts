/**
 * @module
 * The store on PostgreSQL, for several instances serving as one, on the `postgres` client and
 * its connection pool. Migrations run at open under an advisory lock. A database that cannot be
 * reached is StoreFailure `unavailable`; every other failure keeps the driver's error.
 */
import postgres from "postgres";
import { DAY_SECONDS, unixNow, type UnixSeconds } from "../clock.ts";
import { duplicateUser, storeUnavailable } from "./errors.ts";
import type { PostgresTls } from "./open.ts";
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
  // Private keys only while current; demo users marked.
  `ALTER TABLE signing_keys ALTER COLUMN private_jwk DROP NOT NULL;
   UPDATE signing_keys SET private_jwk = NULL WHERE retires_at IS NOT NULL;
   ALTER TABLE users ADD COLUMN demo BOOLEAN NOT NULL DEFAULT false;`,
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

/** Advisory lock keys: one for migrations, one for creating the first signing key. */
const MIGRATION_LOCK = 7_244_001;
const SIGNING_KEY_LOCK = 7_244_002;

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
   * `sslmode` asks for (see open.ts); without it the connection is cleartext.
   */
  static async open(
    url: string,
    options: { maxConnections?: number; tls?: PostgresTls } = {},
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
    });
    const store = new PostgresStore(sql);
    try {
      await store.#run(() => migrate(sql));
    } catch (error) {
      await sql.end({ timeout: 1 });
      throw error;
    }
    return store;
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

  setPasswordHash(username: string, passwordHash: string): Promise<boolean> {
    return this.#run(async () => {
      const result = await this.#sql`
        UPDATE users SET password_hash = ${passwordHash}, demo = false
        WHERE username = ${username}`;
      return result.count > 0;
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

  removeUser(username: string): Promise<boolean> {
    return this.#run(async () => {
      const result = await this.#sql`DELETE FROM users WHERE username = ${username}`;
      return result.count > 0;
    });
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

  getThrottle(key: string): Promise<ThrottleRecord | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`
        SELECT failures, window_start, blocked_until FROM throttle WHERE key = ${key}`;
      return row && toThrottle(row);
    });
  }

  recordFailure(
    key: string,
    update: (current: ThrottleRecord | undefined) => ThrottleRecord,
  ): Promise<ThrottleRecord> {
    return this.#run(async () => {
      return await this.#sql.begin(async (sql) => {
        // Lock the row (creating a placeholder first) so concurrent failures all count.
        await sql`
          INSERT INTO throttle (key, failures, window_start, blocked_until)
          VALUES (${key}, 0, 0, 0) ON CONFLICT DO NOTHING`;
        const [row] = await sql`
          SELECT failures, window_start, blocked_until FROM throttle WHERE key = ${key}
          FOR UPDATE`;
        const current = row.failures === 0 && Number(row.window_start) === 0
          ? undefined
          : toThrottle(row);
        const next = update(current);
        await sql`
          UPDATE throttle SET failures = ${next.failures}, window_start = ${next.windowStartAt},
            blocked_until = ${next.blockedUntil} WHERE key = ${key}`;
        return next;
      });
    });
  }

  clearThrottle(key: string): Promise<void> {
    return this.#run(async () => {
      await this.#sql`DELETE FROM throttle WHERE key = ${key}`;
    });
  }

  addRefreshToken(record: RefreshTokenRecord): Promise<void> {
    return this.#run(async () => {
      await this.#sql`
        INSERT INTO refresh_tokens (token_hash, family_id, username, client_id, scope,
          created_at, expires_at, used_at, revoked_at)
        VALUES (${record.tokenHash}, ${record.familyId}, ${record.username}, ${record.clientId},
          ${record.scope}, ${record.createdAt}, ${record.expiresAt}, ${record.usedAt},
          ${record.revokedAt})`;
    });
  }

  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    return this.#run(async () => {
      const [row] = await this.#sql`SELECT * FROM refresh_tokens WHERE token_hash = ${tokenHash}`;
      return row && toRefreshToken(row);
    });
  }

  useRefreshToken(tokenHash: string, now: UnixSeconds): Promise<RefreshOutcome> {
    return this.#run(async () => {
      const [used] = await this.#sql`
        UPDATE refresh_tokens SET used_at = ${now}
        WHERE token_hash = ${tokenHash} AND used_at IS NULL AND revoked_at IS NULL
          AND expires_at > ${now}
        RETURNING *`;
      if (used) return { outcome: "rotated", record: toRefreshToken(used) };
      const [row] = await this.#sql`SELECT * FROM refresh_tokens WHERE token_hash = ${tokenHash}`;
      if (!row) return { outcome: "unknown" };
      const record = toRefreshToken(row);
      if (record.revokedAt !== null) return { outcome: "revoked", record };
      if (record.usedAt !== null) return { outcome: "reused", record };
      return { outcome: "expired", record };
    });
  }

  revokeRefreshFamily(familyId: string, now: UnixSeconds): Promise<void> {
    return this.#run(async () => {
      await this.#sql`
        UPDATE refresh_tokens SET revoked_at = ${now}
        WHERE family_id = ${familyId} AND revoked_at IS NULL`;
    });
  }

  addRevocation(kind: RevocationRecord["kind"], id: string, expiresAt: UnixSeconds): Promise<void> {
    return this.#run(async () => {
      await this.#sql.begin(async (sql) => {
        // Writers take turns so that sequence numbers become visible in order: a reader that
        // has seen number n can never later find a smaller one committed.
        await sql`LOCK TABLE revocations IN SHARE ROW EXCLUSIVE MODE`;
        await sql`
          INSERT INTO revocations (kind, id, expires_at) VALUES (${kind}, ${id}, ${expiresAt})
          ON CONFLICT (kind, id) DO UPDATE
            SET expires_at = GREATEST(revocations.expires_at, excluded.expires_at)`;
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

  pruneExpired(now: UnixSeconds): Promise<void> {
    return this.#run(async () => {
      await this.#sql.begin(async (sql) => {
        await sql`DELETE FROM refresh_tokens WHERE expires_at <= ${now}`;
        await sql`DELETE FROM revocations WHERE expires_at <= ${now}`;
        await sql`
          DELETE FROM throttle WHERE blocked_until <= ${now}
            AND window_start <= ${now - THROTTLE_RETENTION_SECONDS}`;
      });
    });
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
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

function toThrottle(row: Row): ThrottleRecord {
  return {
    failures: row.failures,
    windowStartAt: Number(row.window_start),
    blockedUntil: Number(row.blocked_until),
  };
}

function toRefreshToken(row: Row): RefreshTokenRecord {
  return {
    tokenHash: row.token_hash,
    familyId: row.family_id,
    username: row.username,
    clientId: row.client_id,
    scope: row.scope,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: row.used_at === null ? null : Number(row.used_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}
