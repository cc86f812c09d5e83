import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";
import { storeContract } from "./store_contract.ts";

const dir = Deno.makeTempDirSync({ prefix: "sqlite_store_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const paths = new WeakMap<Store, string>();

/** A store on a new file in the temp dir. */
function openFresh(): Promise<Store> {
  const path = join(dir, `${crypto.randomUUID()}.db`);
  const store = SqliteStore.open(path);
  paths.set(store, path);
  return Promise.resolve(store);
}

storeContract("SqliteStore", openFresh, {
  reopen(store) {
    const path = paths.get(store);
    assert.ok(path, "store was opened by openFresh");
    const again = SqliteStore.open(path);
    paths.set(again, path);
    return Promise.resolve(again);
  },
});

storeContract("SqliteStore(:memory:)", () => Promise.resolve(SqliteStore.open(":memory:")));

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
  await SqliteStore.open(path).close();
  inspect(path, (db) => {
    assert.equal(db.prepare("PRAGMA user_version").get()?.user_version, 2);
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row.name);
    assert.deepEqual(tables, [
      "refresh_tokens",
      "revocations",
      "signing_keys",
      "sqlite_sequence",
      "throttle",
      "users",
    ]);
  });
});

Deno.test("SqliteStore.open on an already migrated file is a no-op", async () => {
  const path = join(dir, "remigrate.db");
  const store = SqliteStore.open(path);
  await store.addUser("alice", "$hash-a");
  await store.close();
  const schema = () =>
    inspect(path, (db) => ({
      version: db.prepare("PRAGMA user_version").get(),
      sql: db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all(),
    }));
  const before = schema();
  const again = SqliteStore.open(path);
  try {
    assert.deepEqual(schema(), before);
    assert.deepEqual(await again.listUsers(), ["alice"]);
  } finally {
    await again.close();
  }
});

Deno.test("SqliteStore.open from two connections at once migrates once", async () => {
  const path = join(dir, "race.db");
  const stores = [SqliteStore.open(path), SqliteStore.open(path)];
  try {
    await stores[0].addUser("alice", "$hash");
    assert.deepEqual(await stores[1].listUsers(), ["alice"]);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
});

Deno.test("SqliteStore.open throws for a path in a missing directory", () => {
  assert.throws(() => SqliteStore.open(join(dir, "missing", "deeper", "auth.db")));
});
