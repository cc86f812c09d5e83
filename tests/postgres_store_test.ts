import assert from "node:assert/strict";
import postgres from "postgres";
import { unixNow } from "../src/clock.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import type { Store } from "../src/store/store.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { storeContract } from "./store_contract.ts";

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

testNeeding([POSTGRESQL], {
  name:
    "PostgresStore.open turns the refresh tokens of schema 2 into families, revoking those a revocation missed and those of removed users",
  async fn() {
    await using database = await createTestDatabase();
    const now = unixNow();
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      // The tables as schema version 2 had them.
      await sql.unsafe(`
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
          kind TEXT NOT NULL, id TEXT NOT NULL, expires_at BIGINT NOT NULL, UNIQUE (kind, id));
        INSERT INTO users VALUES ('alice', '$hash', 1700000000), ('bob', '$hash', 1);`);
      const rows = [
        // A live session rotated twice: its newest token's expiry becomes the session's end.
        ["live-1", "live", "alice", "app", now - 200, now + 1000, now - 100, null],
        ["live-2", "live", "alice", "app", now - 100, now + 1100, null, null],
        // A session revoked by logout while a rotation minted one more token (the old race).
        ["raced-1", "raced", "bob", "auth-api", now - 50, now + 500, now - 10, now - 10],
        ["raced-2", "raced", "bob", "auth-api", now - 10, now + 540, null, null],
        // A session of a user removed before sessions ended with their user.
        ["gone-1", "gone", "carol", "auth-api", now - 50, now + 700, null, null],
        // A session revoked cleanly (its revocation was recorded then).
        ["out-1", "out", "alice", "auth-api", now - 50, now + 800, null, now - 5],
      ] as const;
      for (const [hash, family, user, client, created, expires, used, revoked] of rows) {
        await sql`
          INSERT INTO refresh_tokens VALUES (${hash}, ${family}, ${user}, ${client}, 'hello',
            ${created}, ${expires}, ${used}, ${revoked})`;
      }
    } finally {
      await sql.end();
    }
    const migrated = await PostgresStore.open(database.url, { maxConnections: 2 });
    try {
      assert.deepEqual((await migrated.getRefreshToken("live-2"))?.family, {
        id: "live",
        username: "alice",
        clientId: "app",
        createdAt: now - 200,
        expiresAt: now + 1100,
        accessExpiresAt: now + 1100,
        revokedAt: null,
      });
      assert.equal((await migrated.getRefreshToken("live-1"))?.token.usedAt, now - 100);
      assert.equal((await migrated.getRefreshToken("raced-2"))?.family.revokedAt, now - 10);
      const gone = (await migrated.getRefreshToken("gone-1"))?.family.revokedAt;
      assert.ok(gone !== null && gone !== undefined && gone >= now, `gone revoked at ${gone}`);
      assert.equal((await migrated.getRefreshToken("out-1"))?.family.revokedAt, now - 5);
      const revoked = (await migrated.listRevocations(0, now))
        .map((r) => [r.kind, r.id, r.expiresAt]).sort();
      assert.deepEqual(revoked, [["sid", "gone", now + 700], ["sid", "raced", now + 540]]);
      const rotated = await migrated.rotateRefreshToken("raced-2", now, () => {
        throw new Error("A revoked family must not rotate");
      });
      assert.equal(rotated.outcome, "revoked");
      const live = await migrated.rotateRefreshToken("live-2", now, () => ({
        tokenHash: "live-3",
        scope: "hello",
        expiresAt: now + 5000,
        accessExpiresAt: now + 900,
      }));
      assert.ok(live.outcome === "rotated");
      assert.equal(live.token.expiresAt, now + 1100, "the session's end is now absolute");
    } finally {
      await migrated.close();
    }
  },
});
