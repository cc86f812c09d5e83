import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { StoreFailure } from "../src/store/errors.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";
import { storeContract } from "./store_contract.ts";

const dir = Deno.makeTempDirSync({ prefix: "sqlite_store_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const paths = new WeakMap<Store, string>();

/** A store on a new file in the temp dir. */
async function openFresh(): Promise<Store> {
  const path = join(dir, `${crypto.randomUUID()}.db`);
  const store = await SqliteStore.open(path);
  paths.set(store, path);
  return store;
}

storeContract("SqliteStore", openFresh, {
  async reopen(store) {
    const path = paths.get(store);
    assert.ok(path, "store was opened by openFresh");
    const again = await SqliteStore.open(path);
    paths.set(again, path);
    return again;
  },
});

storeContract("SqliteStore(:memory:)", () => SqliteStore.open(":memory:"));

function inspect<T>(path: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

Deno.test("SqliteStore.open migrates a new file to the latest schema in WAL mode", async () => {
  const path = join(dir, "schema.db");
  await (await SqliteStore.open(path)).close();
  inspect(path, (db) => {
    assert.equal(db.prepare("PRAGMA user_version").get()?.user_version, 4);
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row.name);
    assert.deepEqual(tables, [
      "refresh_tokens",
      "revocations",
      "secrets",
      "signing_keys",
      "sqlite_sequence",
      "throttle",
      "users",
    ]);
  });
});

Deno.test("SqliteStore.open on an already migrated file is a no-op", async () => {
  const path = join(dir, "remigrate.db");
  const store = await SqliteStore.open(path);
  await store.addUser("alice", "$hash-a");
  await store.close();
  const schema = () =>
    inspect(path, (db) => ({
      version: db.prepare("PRAGMA user_version").get(),
      sql: db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all(),
    }));
  const before = schema();
  const again = await SqliteStore.open(path);
  try {
    assert.deepEqual(schema(), before);
    assert.deepEqual(await again.listUsers(), ["alice"]);
  } finally {
    await again.close();
  }
});

Deno.test("SqliteStore.open from two connections at once migrates once", async () => {
  const path = join(dir, "race.db");
  const stores = await Promise.all([SqliteStore.open(path), SqliteStore.open(path)]);
  try {
    await stores[0].addUser("alice", "$hash");
    assert.deepEqual(await stores[1].listUsers(), ["alice"]);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
});

Deno.test("SqliteStore.open rejects a path in a missing directory", async () => {
  await assert.rejects(SqliteStore.open(join(dir, "missing", "deeper", "auth.db")));
});

Deno.test("SqliteStore answers a write blocked past the busy timeout with unavailable, as a rejection", async () => {
  const path = join(dir, "busy.db");
  const store = await SqliteStore.open(path);
  const other = new DatabaseSync(path);
  other.exec("BEGIN IMMEDIATE");
  try {
    // The call must return a promise even when the database throws at once.
    const pending = store.updateThrottles(["account:alice"], () => ({
      writes: { "account:alice": { failures: 1, windowStartAt: 1, blockedUntil: 0 } },
      result: 0,
    }));
    assert.ok(pending instanceof Promise);
    await assert.rejects(pending, (error) => {
      assert.ok(error instanceof StoreFailure);
      assert.equal(error.code, "unavailable");
      assert.match(error.message, /locked/);
      assert.ok(error.cause instanceof Error, "the driver's error is kept as the cause");
      return true;
    });
  } finally {
    other.exec("ROLLBACK");
    other.close();
    await store.close();
  }
});

Deno.test("SqliteStore.open converts millisecond times of schema 2 into seconds", async () => {
  const path = join(dir, "schema2.db");
  const store = await SqliteStore.open(path);
  await store.close();
  inspect(path, (db) => {
    // Back to schema 2: without the tables of later versions.
    db.exec("DROP TABLE secrets; PRAGMA user_version = 2");
    db.exec("INSERT INTO users VALUES ('alice', '$hash', 1700000000123)");
    db.exec("INSERT INTO throttle VALUES ('account:alice', 6, 1700000000123, 1700000060001)");
  });
  const migrated = await SqliteStore.open(path);
  try {
    assert.equal((await migrated.getUser("alice"))?.createdAt, 1_700_000_000);
    const throttle = await migrated.updateThrottles(["account:alice"], (current) => ({
      writes: {},
      result: current.get("account:alice"),
    }));
    assert.deepEqual(throttle, {
      failures: 6,
      windowStartAt: 1_700_000_000,
      blockedUntil: 1_700_000_061,
    });
  } finally {
    await migrated.close();
  }
});
