/**
 * A PostgreSQL migration that needs a table another transaction holds (an instance of the
 * previous version in a long transaction, during a one-at-a-time upgrade) gives up after
 * `MIGRATION_LOCK_TIMEOUT` with nothing applied, rather than stalling every query of that table
 * behind it: the store does not open, `serve` exits 1 with one line that says to start again, and
 * the next start, once the table is free, applies it.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { MIGRATIONS } from "../src/store/postgres/schema.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { ServerProcess } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { writeTlsFiles } from "./helpers/tls.ts";

/** Longer than the lock timeout, spawn and type-check included. */
const EXIT_DEADLINE_MS = 30_000;

/** The index of the migration that alters refresh_families, which the held transaction reads. */
const ALTERS_FAMILIES = MIGRATIONS.findIndex((migration) =>
  migration.includes("client_confidential")
);

/**
 * A database as an instance of the version before that migration left it (the migrations after
 * it not applied either), and a transaction that reads refresh_families until `release` is
 * called.
 */
async function heldDatabase(): Promise<
  { url: string; release(): Promise<void> } & AsyncDisposable
> {
  assert.ok(ALTERS_FAMILIES > 0, "a migration adds refresh_families.client_confidential");
  const database = await createTestDatabase();
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  await sql.begin(async (tx) => {
    await tx`CREATE TABLE schema_migrations (
      version INTEGER PRIMARY KEY,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`;
    for (const [index, migration] of MIGRATIONS.slice(0, ALTERS_FAMILIES).entries()) {
      await tx.unsafe(migration);
      await tx`INSERT INTO schema_migrations (version) VALUES (${index + 1})`;
    }
  });
  const held = Promise.withResolvers<void>();
  const reading = Promise.withResolvers<void>();
  const holder = sql.begin(async (tx) => {
    await tx`SELECT count(*) FROM refresh_families`;
    reading.resolve();
    await held.promise;
  });
  await reading.promise;
  const release = async () => {
    held.resolve();
    await holder;
  };
  return {
    url: database.url,
    release,
    async [Symbol.asyncDispose]() {
      await release();
      await sql.end();
      await database[Symbol.asyncDispose]();
    },
  };
}

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL: a migration blocked by another transaction fails after the lock timeout with nothing applied, and applies once the table is free",
  async fn() {
    await using database = await heldDatabase();
    const started = Date.now();
    const opening = PostgresStore.open(database.url);
    const deadline = Promise.withResolvers<"still waiting">();
    const timer = setTimeout(() => deadline.resolve("still waiting"), EXIT_DEADLINE_MS);
    const outcome = await Promise.race([
      opening.then(async (store) => {
        await store.close();
        return "opened";
      }, (error: Error) => error),
      deadline.promise,
    ]).finally(() => clearTimeout(timer));
    assert.ok(outcome instanceof Error, `the open failed; it ${outcome}`);
    assert.match(
      outcome.message,
      /^A schema migration waited 5s for a table another transaction holds .*start again to retry$/,
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 4_500 && waited < 15_000, `failed after ${waited} ms`);
    await database.release();
    const store = await PostgresStore.open(database.url);
    try {
      assert.equal(await store.pendingMigrations(), 0);
      assert.equal(await store.markConfidentialFamilies(["svc"], 0), 0, "the column is back");
    } finally {
      await store.close();
    }
  },
});

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL: serve exits 1 with one line saying to start again when a migration is blocked by another transaction",
  async fn() {
    await using database = await heldDatabase();
    await withTempDir(async (dir) => {
      await writeTlsFiles(dir);
      await using server = new ServerProcess(["serve"], {
        cwd: dir,
        env: { LOG_LEVEL: "info", PORT: "0", DATABASE_URL: database.url },
      });
      const status = await server.exitedWithin(EXIT_DEADLINE_MS);
      assert.equal(status.code, 1, `exit code; stderr: ${server.stderr}`);
      const lines = server.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line on stderr, got: ${server.stderr}`);
      assert.match(lines[0], /^Error: Cannot open the DATABASE_URL database at ".*": A schema/);
      assert.match(lines[0], /start again to retry$/);
      assert.deepEqual(server.lines, [], "nothing ran on after the failure");
    });
  },
});
