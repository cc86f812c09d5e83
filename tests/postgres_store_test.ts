import postgres from "postgres";
import { PostgresStore } from "../src/store/postgres.ts";
import type { Store } from "../src/store/store.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { storeContract } from "./store_contract.ts";
import {
  familiesFromTokensTest,
  SIGN_IN_BEFORE_BOUNDS,
  signInBoundsTest,
  USERS_BEFORE_FAMILIES,
} from "./store_contract/migrations.ts";

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

familiesFromTokensTest("PostgresStore", {
  version: 2,
  needs: [POSTGRESQL],
  async create(tokens) {
    const database = await createTestDatabase();
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(SCHEMA_2);
      await sql.unsafe(USERS_BEFORE_FAMILIES);
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

signInBoundsTest("PostgresStore", {
  version: 6,
  needs: [POSTGRESQL],
  async create() {
    const database = await createTestDatabase();
    await (await PostgresStore.open(database.url, { maxConnections: 1 })).close();
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`DROP INDEX pending_requests_address;
        DROP INDEX authorization_codes_browser_sid;
        ALTER TABLE pending_requests DROP COLUMN address;
        ALTER TABLE authorization_codes DROP COLUMN id;
        DROP INDEX refresh_families_client;
        ALTER TABLE revocations DROP COLUMN issued_until;
        ALTER TABLE throttle DROP COLUMN reserved_until;
        DELETE FROM schema_migrations WHERE version >= 7;
        ${SIGN_IN_BEFORE_BOUNDS}`);
    } finally {
      await sql.end();
    }
    return {
      open: () => PostgresStore.open(database.url, { maxConnections: 2 }),
      [Symbol.asyncDispose]: () => database[Symbol.asyncDispose](),
    };
  },
});
