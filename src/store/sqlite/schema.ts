/**
 * @module
 * The embedded store's schema: its versions in order, from the steps both backends share
 * (_schema.ts) and the table rebuilds only SQLite needs, applied at open. The database remembers
 * the last one applied in `user_version`, and each step runs in its own write transaction, so
 * concurrent starts apply each step once.
 */
import type { DatabaseSync } from "node:sqlite";
import * as steps from "../_schema.ts";

const SQLITE: steps.Dialect = {
  integer: "INTEGER",
  flag: "INTEGER",
  tableOptions: " STRICT",
  sequence: "INTEGER PRIMARY KEY AUTOINCREMENT",
  keyOrder: "",
  now: "unixepoch()",
  laterExpiry: "max(expires_at, excluded.expires_at)",
  randomSubject: "lower(hex(randomblob(16)))",
};

/**
 * Schema versions, applied in order; the database remembers the last one in `user_version`.
 * Exported so that upgrades can be tested from any version.
 */
export const MIGRATIONS: readonly string[] = [
  steps.accountTables(SQLITE),
  steps.refreshTokenTables(SQLITE),
  steps.SECONDS_NOT_MILLISECONDS,
  // The tokens table loses the columns the family now holds (rebuilt, as SQLite cannot drop
  // a column that an index names).
  `${steps.refreshFamiliesFromTokens(SQLITE)}
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
  steps.secretsTable(SQLITE),
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
  steps.signInTables(SQLITE),
  steps.SIGN_IN_BOUNDS,
  steps.clientRemovals(SQLITE),
  steps.THROTTLE_RESERVATIONS,
  // Every user gets a subject of their own (the table is rebuilt for the new required, unique
  // column), which what belongs to an account then carries.
  `CREATE TABLE users_v11 (
     username TEXT PRIMARY KEY,
     subject TEXT NOT NULL UNIQUE,
     password_hash TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     demo INTEGER NOT NULL DEFAULT 0
   ) STRICT;
   INSERT INTO users_v11 (rowid, username, subject, password_hash, created_at, demo)
     SELECT rowid, username, ${SQLITE.randomSubject}, password_hash, created_at, demo FROM users;
   DROP TABLE users;
   ALTER TABLE users_v11 RENAME TO users;
   ${steps.subjectsFromUsers(SQLITE)}`,
  steps.secondFactorTables(SQLITE),
  steps.rememberedDevicesTable(SQLITE),
  steps.pushedRequestTables(SQLITE),
  steps.deviceAuthorizationTables(SQLITE),
  steps.passkeyTable(SQLITE),
  steps.dpopTables(SQLITE),
  steps.familyClientConfidential(SQLITE),
  steps.deviceAuthorizationAddress(),
];

/** Applies pending migrations; true when any was applied. */
export function migrate(db: DatabaseSync): boolean {
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

/** How many schema versions the database lacks: more than 0 only for a store opened read-only. */
export function pendingMigrations(db: DatabaseSync): number {
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  return Math.max(0, MIGRATIONS.length - version);
}
