/**
 * @module
 * The PostgreSQL store (`PostgresStore`) held to the store contract of tests/store_contract.ts,
 * each case on a fresh database of a throwaway cluster, and its migrations from earlier schema
 * versions (refresh families from tokens, sign-in bounds, subjects from users, the second-factor
 * step) on databases built as those releases built them.
 */
import postgres from "postgres";
import { PostgresStore } from "../src/store/postgres.ts";
import { MIGRATIONS } from "../src/store/postgres/schema.ts";
import type { Store } from "../src/store/store.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { storeContract } from "./store_contract.ts";
import * as migrations from "./store_contract/migrations.ts";
import { secondFactorStepTest } from "./store_contract/second_factor_migration.ts";

const databases = new Map<Store, AsyncDisposable & { url: string }>();

storeContract("PostgresStore", async () => {
  const database = await createTestDatabase();
  const store = await PostgresStore.open(database.url, { maxConnections: 4 });
  databases.set(store, database);
  return store;
}, {
  reopen: async (store) => await PostgresStore.open(databases.get(store)!.url),
  cleanup: async (store) => {
    await databases.get(store)?.[Symbol.asyncDispose]();
    databases.delete(store);
  },
  needs: [POSTGRESQL],
});

/** The tables as schema version 2 had them. */
const SCHEMA_2 = `
  CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
  INSERT INTO schema_migrations (version) VALUES (1), (2);
  CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL);
  CREATE TABLE signing_keys (id BIGINT GENERATED ALWAYS AS IDENTITY, kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL, private_jwk TEXT NOT NULL, public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL, retires_at BIGINT);
  CREATE TABLE throttle (key TEXT PRIMARY KEY, failures INTEGER NOT NULL,
    window_start BIGINT NOT NULL, blocked_until BIGINT NOT NULL);
  CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL,
    username TEXT NOT NULL, client_id TEXT NOT NULL, scope TEXT NOT NULL,
    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT,
    revoked_at BIGINT);
  CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
  CREATE TABLE revocations (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL, id TEXT NOT NULL, expires_at BIGINT NOT NULL, UNIQUE (kind, id));`;

migrations.familiesFromTokensTest("PostgresStore", {
  version: 2,
  needs: [POSTGRESQL],
  async create(tokens) {
    const database = await createTestDatabase();
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(SCHEMA_2);
      await sql.unsafe(migrations.USERS_BEFORE_FAMILIES);
      for (const token of tokens) {
        await sql`
          INSERT INTO refresh_tokens (token_hash, family_id, username, client_id, scope,
            created_at, expires_at, used_at, revoked_at)
          VALUES (${token[0]}, ${token[1]}, ${token[2]}, ${token[3]}, 'hello', ${token[4]},
            ${token[5]}, ${token[6]}, ${token[7]})`;
      }
    } finally {
      await sql.end();
    }
    return {
      open: () => PostgresStore.open(database.url, { maxConnections: 2 }),
      async refreshTokenColumns() {
        const sql = postgres(database.url, { max: 1, onnotice: () => {} });
        try {
          const rows = await sql`
            SELECT column_name FROM information_schema.columns
            WHERE table_name = 'refresh_tokens' ORDER BY ordinal_position`;
          return rows.map((row) => row.column_name as string);
        } finally {
          await sql.end();
        }
      },
      [Symbol.asyncDispose]: () => database[Symbol.asyncDispose](),
    };
  },
});

/**
 * A new database at schema `version`, made by the first `version` steps as that release made
 * them, with `rows` (SQL) in it.
 */
async function databaseAt(
  version: number,
  rows: string,
): Promise<AsyncDisposable & { open(): Promise<Store> }> {
  const database = await createTestDatabase();
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    await sql.begin(async (tx) => {
      await tx`
        CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
          applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`;
      for (const [index, migration] of MIGRATIONS.slice(0, version).entries()) {
        await tx.unsafe(migration);
        await tx`INSERT INTO schema_migrations (version) VALUES (${index + 1})`;
      }
      await tx.unsafe(rows);
    });
  } finally {
    await sql.end();
  }
  return {
    open: () => PostgresStore.open(database.url, { maxConnections: 2 }),
    [Symbol.asyncDispose]: () => database[Symbol.asyncDispose](),
  };
}

migrations.signInBoundsTest("PostgresStore", {
  version: 6,
  needs: [POSTGRESQL],
  create: () => databaseAt(6, migrations.SIGN_IN_BEFORE_BOUNDS),
});

migrations.subjectsFromUsersTest("PostgresStore", {
  version: 9,
  needs: [POSTGRESQL],
  create: (rows) => databaseAt(9, rows),
});

secondFactorStepTest("PostgresStore", {
  version: 10,
  needs: [POSTGRESQL],
  create: (rows) => databaseAt(10, rows),
});
