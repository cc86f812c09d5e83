/**
 * @module
 * The shared store's schema: its versions in order, from the steps both backends share
 * (_schema.ts) and the changes only PostgreSQL words its own way, applied at open inside one
 * transaction under an advisory lock, so that instances starting together apply each version
 * once. The database remembers the versions applied in `schema_migrations`.
 */
import * as steps from "../_schema.ts";
import type { Sql } from "./connection.ts";
import { MIGRATION_LOCK } from "./locks.ts";

const POSTGRES: steps.Dialect = {
  integer: "BIGINT",
  flag: "BOOLEAN",
  tableOptions: "",
  sequence: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
  keyOrder: "id BIGINT GENERATED ALWAYS AS IDENTITY,\n     ",
  now: "extract(epoch FROM now())::bigint",
  laterExpiry: "GREATEST(revocations.expires_at, excluded.expires_at)",
  randomSubject: "replace(gen_random_uuid()::text, '-', '')",
};

/**
 * Schema versions, applied in order inside one transaction each. Exported so that upgrades can
 * be tested from any version.
 */
export const MIGRATIONS: readonly string[] = [
  `${steps.accountTables(POSTGRES)}
   ${steps.refreshTokenTables(POSTGRES)}`,
  steps.SECONDS_NOT_MILLISECONDS,
  // Revocation writers take turns (see tokens.ts); the tokens lose the columns the family holds.
  `LOCK TABLE revocations IN SHARE ROW EXCLUSIVE MODE;
   ${steps.refreshFamiliesFromTokens(POSTGRES)}
   ALTER TABLE refresh_tokens
     DROP COLUMN username,
     DROP COLUMN client_id,
     DROP COLUMN revoked_at,
     ADD FOREIGN KEY (family_id) REFERENCES refresh_families (id) ON DELETE CASCADE;`,
  steps.secretsTable(POSTGRES),
  // Private keys only while current; demo users marked.
  `ALTER TABLE signing_keys ALTER COLUMN private_jwk DROP NOT NULL;
   UPDATE signing_keys SET private_jwk = NULL WHERE retires_at IS NOT NULL;
   ALTER TABLE users ADD COLUMN demo BOOLEAN NOT NULL DEFAULT false;`,
  steps.signInTables(POSTGRES),
  // Codes made in the same second are ordered by an increasing id (SQLite has its rowid).
  `ALTER TABLE authorization_codes ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY;
   ${steps.SIGN_IN_BOUNDS}`,
  steps.clientRemovals(POSTGRES),
  steps.THROTTLE_RESERVATIONS,
  // Every user gets a subject of their own, which what belongs to an account then carries.
  `ALTER TABLE users ADD COLUMN subject TEXT;
   UPDATE users SET subject = ${POSTGRES.randomSubject};
   ALTER TABLE users ALTER COLUMN subject SET NOT NULL, ADD UNIQUE (subject);
   ${steps.subjectsFromUsers(POSTGRES)}
   ALTER TABLE refresh_families ALTER COLUMN subject DROP DEFAULT;
   ALTER TABLE browser_sessions ALTER COLUMN subject DROP DEFAULT;
   ALTER TABLE authorization_codes ALTER COLUMN subject DROP DEFAULT;`,
  steps.secondFactorTables(POSTGRES),
  steps.rememberedDevicesTable(POSTGRES),
  steps.pushedRequestTables(POSTGRES),
  steps.deviceAuthorizationTables(POSTGRES),
  steps.passkeyTable(POSTGRES),
  steps.dpopTables(POSTGRES),
  steps.familyClientConfidential(POSTGRES),
  steps.deviceAuthorizationAddress(),
];

/**
 * How long a migration waits for a table that another transaction holds (an instance of the
 * previous version in a long transaction) before the start fails, to be retried, rather than
 * queueing every query of that table behind it.
 */
export const MIGRATION_LOCK_TIMEOUT = "5s";

/** PostgreSQL's code for a lock not granted within `lock_timeout`. */
const LOCK_NOT_AVAILABLE = "55P03";

/**
 * Applies the versions not applied yet, in one transaction. Fails when a table stays held by
 * another transaction for {@linkcode MIGRATION_LOCK_TIMEOUT}, with nothing applied.
 */
export async function migrate(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    // Only after the advisory lock: instances starting together wait for one another's migration
    // however long it takes.
    await tx.unsafe(`SET LOCAL lock_timeout = '${MIGRATION_LOCK_TIMEOUT}'`);
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
  }).catch((error) => {
    if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw error;
    throw new Error(
      `A schema migration waited ${MIGRATION_LOCK_TIMEOUT} for a table another transaction holds (an instance of the previous version?); nothing was applied, start again to retry`,
      { cause: error },
    );
  });
}

/** How many schema versions the database lacks: more than 0 only for a store opened read-only. */
export async function pendingMigrations(sql: Sql): Promise<number> {
  const [{ exists }] = await sql`SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`;
  if (!exists) return MIGRATIONS.length;
  const [{ applied }] = await sql`SELECT count(*)::int AS applied FROM schema_migrations`;
  return Math.max(0, MIGRATIONS.length - applied);
}
