/**
 * @module
 * The SQLite store (`SqliteStore`) held to the store contract of tests/store_contract.ts, and what
 * is its own: migration to the latest schema in WAL mode, once even from two connections at once,
 * from earlier schema versions (times in seconds, retired private keys erased, refresh families,
 * sign-in bounds, subjects), a busy timeout answered as unavailable, and no old private key left in
 * the log.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { generateSigningKey } from "../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../src/clock.ts";
import { StoreFailure } from "../src/store/errors.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { MIGRATIONS } from "../src/store/sqlite/schema.ts";
import type { Store } from "../src/store/store.ts";
import { storeContract } from "./store_contract.ts";
import * as migrations from "./store_contract/migrations.ts";
import { secondFactorStepTest } from "./store_contract/second_factor_migration.ts";

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

/** Opens the store at `path` (migrating it), runs `fn` on it, and closes it. */
async function withStore<T>(path: string, fn: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = await SqliteStore.open(path);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

Deno.test("SqliteStore.open migrates a new file to the latest schema in WAL mode", async () => {
  const path = join(dir, "schema.db");
  await withStore(path, async () => {});
  inspect(path, (db) => {
    assert.equal(db.prepare("PRAGMA user_version").get()?.user_version, MIGRATIONS.length);
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row.name);
    assert.deepEqual(tables, [
      "authorization_codes",
      "browser_session_families",
      "browser_sessions",
      "clients",
      "consents",
      "device_authorizations",
      "dpop_proofs",
      "id_token_keys",
      "passkeys",
      "pending_requests",
      "pushed_requests",
      "recovery_codes",
      "refresh_families",
      "refresh_tokens",
      "remembered_devices",
      "revocations",
      "secrets",
      "session_methods",
      "signing_keys",
      "sqlite_sequence",
      "throttle",
      "totp_factors",
      "users",
    ]);
  });
});

Deno.test("SqliteStore.open on an already migrated file is a no-op", async () => {
  const path = join(dir, "remigrate.db");
  await withStore(path, (store) => store.addUser("alice", "$hash-a"));
  const schema = () =>
    inspect(path, (db) => ({
      version: db.prepare("PRAGMA user_version").get(),
      sql: db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all(),
    }));
  const before = schema();
  await withStore(path, async (again) => {
    assert.deepEqual(schema(), before);
    assert.deepEqual(await again.listUsers(), ["alice"]);
  });
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

Deno.test("SqliteStore answers a write blocked past the busy timeout with unavailable, as a rejection", async () => {
  const path = join(dir, "busy.db");
  await withStore(path, async (store) => {
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
    }
  });
});

/** The tables as schema versions 2 and 3 had them, to test upgrades from there. */
const SCHEMA_3 = `
  CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL) STRICT;
  CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL, created_at INTEGER NOT NULL, retires_at INTEGER) STRICT;
  CREATE TABLE throttle (key TEXT PRIMARY KEY, failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL, blocked_until INTEGER NOT NULL) STRICT;
  CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL,
    username TEXT NOT NULL, client_id TEXT NOT NULL, scope TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER,
    revoked_at INTEGER) STRICT;
  CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
  CREATE TABLE revocations (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    id TEXT NOT NULL, expires_at INTEGER NOT NULL, UNIQUE (kind, id)) STRICT;`;

/** Creates a database at schema `version` (2 or 3) and runs `fill` on it. */
function oldDatabase(name: string, version: number, fill: (db: DatabaseSync) => void): string {
  const path = join(dir, name);
  inspect(path, (db) => {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(SCHEMA_3);
    db.exec(`PRAGMA user_version = ${version}`);
    fill(db);
  });
  return path;
}

Deno.test("SqliteStore.open converts millisecond times of schema 2 into seconds", async () => {
  const path = oldDatabase("schema2.db", 2, (db) => {
    db.exec("INSERT INTO users VALUES ('alice', '$hash', 1700000000123)");
    db.exec("INSERT INTO throttle VALUES ('account:alice', 6, 1700000000123, 1700000060001)");
  });
  await withStore(path, async (migrated) => {
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
  });
});

migrations.familiesFromTokensTest("SqliteStore", {
  version: 3,
  create(tokens) {
    const path = oldDatabase("schema3.db", 3, (db) => {
      db.exec(migrations.USERS_BEFORE_FAMILIES);
      const insert = db.prepare(
        "INSERT INTO refresh_tokens VALUES (?, ?, ?, ?, 'hello', ?, ?, ?, ?)",
      );
      for (const token of tokens) insert.run(...token);
    });
    return Promise.resolve({
      open: () => SqliteStore.open(path),
      refreshTokenColumns: () =>
        Promise.resolve(
          inspect(path, (db) =>
            db.prepare("SELECT name FROM pragma_table_info('refresh_tokens')").all()
              .map((row) =>
                row.name as string
              )),
        ),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    });
  },
});

/**
 * A new file at schema `version`, made by the first `version` steps as that release made them,
 * with `rows` (SQL) in it.
 */
function databaseAt(version: number, rows: string): AsyncDisposable & { open(): Promise<Store> } {
  const path = join(dir, `${crypto.randomUUID()}.db`);
  inspect(path, (db) => {
    for (const migration of MIGRATIONS.slice(0, version)) db.exec(migration);
    db.exec(`PRAGMA user_version = ${version}`);
    db.exec(rows);
  });
  return { open: () => SqliteStore.open(path), [Symbol.asyncDispose]: async () => {} };
}

migrations.signInBoundsTest("SqliteStore", {
  version: 7,
  create: () => Promise.resolve(databaseAt(7, migrations.SIGN_IN_BEFORE_BOUNDS)),
});

migrations.subjectsFromUsersTest("SqliteStore", {
  version: 10,
  create: (rows) => Promise.resolve(databaseAt(10, rows)),
});

secondFactorStepTest("SqliteStore", {
  version: 11,
  create: (rows) => Promise.resolve(databaseAt(11, rows)),
});

Deno.test("SqliteStore.open of schema 3 erases retired private keys from the table and the files, and marks no user as demo", async () => {
  const secret = "retired-private-key-material-7f3a";
  const path = oldDatabase("schema3-keys.db", 3, (db) => {
    db.exec("INSERT INTO users VALUES ('user1', '$hash', 1700000000)");
    db.exec(`INSERT INTO signing_keys VALUES ('old', 'ES256', '{"d":"${secret}"}', '{"kty":"EC"}',
      1700000000, 1700000900)`);
    db.exec(`INSERT INTO signing_keys VALUES ('new', 'ES256', '{"d":"current"}', '{"kty":"EC"}',
      1700000100, NULL)`);
  });
  assert.ok(fileText(path).includes(secret), "the old database holds the secret");
  await withStore(path, async (migrated) => {
    assert.deepEqual((await migrated.listSigningKeys(0)).map((k) => k.kid), ["new", "old"]);
    assert.equal(await migrated.currentPrivateJwk("new"), '{"d":"current"}');
    assert.equal(await migrated.currentPrivateJwk("old"), undefined);
    assert.deepEqual(await migrated.listDemoUsers(), []);
    for (const file of [path, `${path}-wal`]) {
      assert.ok(!fileText(file).includes(secret), `${file} no longer holds the retired key`);
    }
  });
});

Deno.test("SqliteStore.rotateSigningKey leaves the old private key in neither the database nor its log", async () => {
  const path = join(dir, "erase.db");
  await withStore(path, async (store) => {
    const first = await generateSigningKey(unixNow());
    await store.ensureSigningKey(first, unixNow());
    const d = JSON.parse(first.privateJwk).d as string;
    assert.ok(fileText(path) + fileText(`${path}-wal`), "files exist");
    assert.ok((fileText(path) + fileText(`${path}-wal`)).includes(d), "stored while current");
    await store.rotateSigningKey(await generateSigningKey(unixNow()), unixNow() + 60, unixNow());
    for (const file of [path, `${path}-wal`]) {
      assert.ok(!fileText(file).includes(d), `${file} no longer holds the key`);
    }
    const replacement = await generateSigningKey(unixNow());
    const current = (await store.listSigningKeys(unixNow()))[0];
    const currentD = JSON.parse((await store.currentPrivateJwk(current.kid))!).d as string;
    assert.equal(await store.revokeSigningKey(current.kid, replacement), "current");
    for (const file of [path, `${path}-wal`]) {
      assert.ok(!fileText(file).includes(currentD), `${file} no longer holds the revoked key`);
    }
  });
});

/** A file's bytes as Latin-1 text (every byte one character), or "" when it does not exist. */
function fileText(path: string): string {
  try {
    return new TextDecoder("latin1").decode(Deno.readFileSync(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}
