/**
 * @module
 * `serve --check`, the start-up checks without serving: it validates the certificate, the store and
 * the settings and exits 0 saying what it would serve with, or 1 with one line as `serve` would
 * (demo users included), and never writes or migrates a SQLite file or a PostgreSQL database,
 * reporting a missing store without creating it.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { NO_USERS } from "../src/check.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { assertOneLineError, runCli } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { writeTlsFiles } from "./helpers/tls.ts";

Deno.test("serve --check validates everything, prints what it would serve with and exits 0", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    await (await SqliteStore.open(`${dir}/data/auth.db`)).close();
    const result = await runCli(["serve", "--check", "--port", "9443"], {
      cwd: dir,
      env: {
        TLS_CERT: `${dir}/certs/cert.pem`,
        TLS_KEY: `${dir}/certs/key.pem`,
        DATABASE_URL: `sqlite:${dir}/data/auth.db`,
        METRICS_PORT: "9464",
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Configuration OK$/m);
    assert.match(result.stdout, /HTTPS\s+https:\/\/localhost:9443/);
    assert.match(result.stdout, /Metrics\s+http:\/\/127\.0\.0\.1:9464\/metrics/);
    assert.match(result.stdout, /Store\s+sqlite:.*answers; 0 user/);
    assert.match(result.stdout, new RegExp(`^ +Warning +${RegExp.escape(NO_USERS)}$`, "m"));
    assert.doesNotMatch(result.stdout, /PUBLIC_URL/);
    await assert.rejects(Deno.connect({ hostname: "localhost", port: 9443 }), "nothing listens");
  });
});

Deno.test("serve --check exits 1 with one line for a bad certificate, an unreachable store or a bad setting", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    await (await SqliteStore.open(`${dir}/data/auth.db`)).close();
    const base = {
      TLS_CERT: `${dir}/certs/cert.pem`,
      TLS_KEY: `${dir}/certs/key.pem`,
      DATABASE_URL: `sqlite:${dir}/data/auth.db`,
    };
    const cases: [Record<string, string>, RegExp][] = [
      [{ TLS_CERT: `${dir}/certs/missing.pem` }, /missing\.pem/],
      [{ DATABASE_URL: "postgres://auth:secret-pw@127.0.0.1:1/auth" }, /127\.0\.0\.1:1/],
      [{ METRICS_PORT: "99999" }, /METRICS_PORT/],
    ];
    for (const [env, pattern] of cases) {
      const result = await runCli(["serve", "--check"], { cwd: dir, env: { ...base, ...env } });
      assert.equal(result.code, 1, JSON.stringify(env));
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], pattern);
      assert.ok(!result.stderr.includes("secret-pw") && !result.stdout.includes("secret-pw"));
    }
  });
});

Deno.test("serve --check exits 1 as serve would for a store with demo users, and passes on a warning about the store's modes", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    const store = await SqliteStore.open(`${dir}/data/auth.db`);
    await store.addUser("user1", "$pbkdf2-sha256$i=600000$x$y", { demo: true });
    await store.close();
    const refused = await runCli(["serve", "--check"], { cwd: dir });
    assertOneLineError(
      refused,
      /^Error: The store holds demo users with public passwords \(user1\)/,
    );

    const removed = await runCli(["user", "remove", "user1"], { cwd: dir });
    assert.equal(removed.code, 0, removed.stderr);
    await Deno.chmod(`${dir}/data`, 0o755);
    const checked = await runCli(["serve", "--check"], { cwd: dir });
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /^Configuration OK$/m);
    assert.match(checked.stdout, /^ +Warning +.*other users could reach "data" 0755/m);
  });
});

/** Every file under `dir` with its bytes and modification time. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    const { mtime } = await Deno.stat(path);
    files[entry.name] = `${mtime?.getTime()} ${(await Deno.readFile(path)).toHex()}`;
  }
  return files;
}

Deno.test("serve --check reads a SQLite store without writing it, and reports a missing one without creating it", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    // The README's case: a DATABASE_URL naming a file that does not exist.
    const missing = await runCli(["serve", "--check"], {
      cwd: dir,
      env: { DATABASE_URL: "sqlite:data/other.db" },
    });
    assertOneLineError(
      missing,
      /^Error: The DATABASE_URL database "data\/other\.db" does not exist .*check DATABASE_URL, or create it with deno task user add NAME$/,
    );
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound, "nothing created");

    const added = await runCli(["user", "add", "alice"], { cwd: dir, stdin: "alice password 1\n" });
    assert.equal(added.code, 0, added.stderr);
    const before = await snapshot(`${dir}/data`);
    const checked = await runCli(["serve", "--check"], { cwd: dir });
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /Store\s+sqlite:data\/auth\.db \(answers; 1 user/);
    assert.doesNotMatch(checked.stdout, /no users/);
    const after = await snapshot(`${dir}/data`);
    assert.equal(after["auth.db"], before["auth.db"], "the database file is not written");
    // A reader of a WAL database may leave SQLite's empty companions, and nothing in them.
    for (const name of Object.keys(after).filter((name) => !(name in before))) {
      assert.match(name, /^auth\.db-(wal|shm)$/);
      if (name === "auth.db-wal") assert.equal(after[name].split(" ")[1], "");
    }
  });
});

Deno.test("serve --check never migrates: a SQLite file without the schema stays as it is, with a warning", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    new DatabaseSync(`${dir}/data/auth.db`).close();
    const before = await Deno.readFile(`${dir}/data/auth.db`);
    const checked = await runCli(["serve", "--check"], { cwd: dir });
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(
      checked.stdout,
      /Store\s+sqlite:data\/auth\.db \(answers; \d+ migration\(s\) pending\)/,
    );
    assert.match(
      checked.stdout,
      /Warning +The store lacks \d+ schema version\(s\), which serve applies at start/,
    );
    assert.deepEqual(await Deno.readFile(`${dir}/data/auth.db`), before);
    const db = new DatabaseSync(`${dir}/data/auth.db`, { readOnly: true });
    try {
      assert.deepEqual(db.prepare("SELECT name FROM sqlite_master").all(), [], "no table made");
    } finally {
      db.close();
    }
  });
});

Deno.test("serve --check warns that a wildcard HOST without PUBLIC_URL names the service by localhost", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    await (await SqliteStore.open(`${dir}/data/auth.db`)).close();
    const wildcard = await runCli(["serve", "--check"], { cwd: dir, env: { HOST: "0.0.0.0" } });
    assert.equal(wildcard.code, 0, wildcard.stderr);
    assert.match(
      wildcard.stdout,
      /^ +Warning +HOST "0\.0\.0\.0" accepts connections from other machines, but without PUBLIC_URL the service names itself "https:\/\/localhost:8443" .*; set PUBLIC_URL to the https:\/\/ address clients use$/m,
    );
    const named = await runCli(["serve", "--check"], {
      cwd: dir,
      env: { HOST: "0.0.0.0", PUBLIC_URL: "https://auth.example.test" },
    });
    assert.equal(named.code, 0, named.stderr);
    assert.doesNotMatch(named.stdout, /Warning +HOST/);
  });
});

testNeeding([POSTGRESQL], {
  name: "serve --check on PostgreSQL never migrates or writes: an empty database stays empty",
  async fn() {
    await using database = await createTestDatabase();
    await withTempDir(async (dir) => {
      await writeTlsFiles(dir);
      const env = { DATABASE_URL: database.url };
      const tables = async () => {
        const sql = postgres(database.url, { max: 1, onnotice: () => {} });
        try {
          return (await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
            .map((row) => row.tablename as string);
        } finally {
          await sql.end();
        }
      };
      const empty = await runCli(["serve", "--check"], { cwd: dir, env });
      assert.equal(empty.code, 0, empty.stderr);
      assert.match(
        empty.stdout,
        /Store\s+PostgreSQL at .* \(answers; \d+ migration\(s\) pending\)/,
      );
      assert.deepEqual(await tables(), [], "no table was made");

      const added = await runCli(["user", "add", "alice"], {
        cwd: dir,
        env,
        stdin: "alice password 1\n",
      });
      assert.equal(added.code, 0, added.stderr);
      const migrated = await tables();
      const checked = await runCli(["serve", "--check"], { cwd: dir, env });
      assert.equal(checked.code, 0, checked.stderr);
      assert.match(checked.stdout, /Store\s+PostgreSQL at .* \(answers; 1 user/);
      assert.match(checked.stdout, /Signing +ES256, a first key pair is made at start/);
      assert.deepEqual(await tables(), migrated);
      // Read-only is the server's rule for the session, not only the check's restraint.
      const readOnly = await PostgresStore.open(database.url, { readOnly: true });
      try {
        assert.equal(await readOnly.pendingMigrations(), 0);
        await assert.rejects(readOnly.addUser("bob", "$hash"), /read-only transaction/);
      } finally {
        await readOnly.close();
      }
    });
  },
});
