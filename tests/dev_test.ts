/**
 * @module
 * Seeding the demo users of `serve --dev` (`seedDemoUsers`), on SQLite and PostgreSQL: they are
 * made in a store that already has other users, only the missing ones are made, a changed password
 * is kept, and several instances seeding one store at once make each user once without failing.
 */
import assert from "node:assert/strict";
import { Passwords } from "../src/auth/accounts/passwords.ts";
import { DEMO_USERS, seedDemoUsers } from "../src/dev.ts";
import { createLogger } from "../src/log.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { testHasher } from "./helpers/server.ts";

/** A logger that keeps its lines, parsed. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger("debug", (line) => lines.push(JSON.parse(line))) };
}

/** Runs `fn` with an in-memory store and closes it. */
async function withMemoryStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const store = await SqliteStore.open(":memory:");
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

async function verifies(
  store: SqliteStore,
  hasher: Passwords,
  name: string,
  password: string,
) {
  const user = await store.getUser(name);
  assert.ok(user, `${name} exists`);
  return (await hasher.verify(password, user.passwordHash)).ok;
}

Deno.test("seedDemoUsers creates the demo users in a store that already has another user, and says so", async () => {
  await withMemoryStore(async (store) => {
    const hasher = testHasher();
    await store.addUser("alice", await hasher.hash("alice's password"));
    const { lines, logger } = capturingLogger();

    await seedDemoUsers(store, hasher, logger);

    for (const [name, password] of Object.entries(DEMO_USERS)) {
      assert.ok(
        await verifies(store, hasher, name, password),
        `${name} has the tutorial's password`,
      );
    }
    assert.deepEqual((await store.listUsers()).sort(), [
      "alice",
      "user1",
      "user2",
    ]);
    assert.equal(lines.length, 1, "one log line");
    assert.equal(lines[0].level, "warn");
    assert.match(String(lines[0].msg), /^Development mode: created the demo users/);
    assert.deepEqual(lines[0].created, ["user1", "user2"]);
  });
});

Deno.test("seedDemoUsers creates only the missing demo user and keeps a changed password", async () => {
  await withMemoryStore(async (store) => {
    const hasher = testHasher();
    await store.addUser("user1", await hasher.hash("changed password"));
    const { lines, logger } = capturingLogger();

    await seedDemoUsers(store, hasher, logger);
    assert.ok(await verifies(store, hasher, "user1", "changed password"), "not overwritten");
    assert.ok(await verifies(store, hasher, "user2", "password2"));
    assert.deepEqual(lines.map((line) => line.created), [["user2"]]);

    await seedDemoUsers(store, hasher, logger);
    assert.equal(lines.length, 2);
    assert.match(String(lines[1].msg), /^Development mode: demo users exist/);
    assert.deepEqual(lines[1].created, []);
  });
});

Deno.test("seedDemoUsers run by several instances at once on one store creates each user once, without failing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-dev-" });
  try {
    const hasher = testHasher();
    for (let round = 0; round < 10; round++) {
      const path = `${dir}/round-${round}.db`;
      const stores = await Promise.all([1, 2, 3].map(() => SqliteStore.open(path)));
      try {
        const { lines, logger } = capturingLogger();
        await Promise.all(stores.map((store) => seedDemoUsers(store, hasher, logger)));
        const created = lines.flatMap((line) => line.created as string[]).sort();
        assert.deepEqual(created, ["user1", "user2"], `round ${round}: each created once`);
        assert.deepEqual(
          (await stores[0].listUsers()).sort(),
          ["user1", "user2"],
        );
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testNeeding([POSTGRESQL], {
  name:
    "seedDemoUsers run by two instances at once on one PostgreSQL database creates each user once",
  async fn() {
    const hasher = testHasher();
    for (let round = 0; round < 5; round++) {
      await using database = await createTestDatabase();
      const stores = await Promise.all([1, 2].map(() => PostgresStore.open(database.url)));
      try {
        const { lines, logger } = capturingLogger();
        await Promise.all(stores.map((store) => seedDemoUsers(store, hasher, logger)));
        const created = lines.flatMap((line) => line.created as string[]).sort();
        assert.deepEqual(created, ["user1", "user2"], `round ${round}: each created once`);
        assert.deepEqual((await stores[1].listUsers()).sort(), ["user1", "user2"]);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    }
  },
});
