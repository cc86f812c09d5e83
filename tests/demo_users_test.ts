/**
 * @module
 * The demo users of `deno task start`: `serve` without `--dev` refuses to start, with one line
 * naming them and how to remove them, while the store holds demo users with their public passwords,
 * also in a store seeded before demo users were marked, until they are removed or get new
 * passwords.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Passwords } from "../src/auth/accounts/passwords.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { assertOneLineError, type CliResult, runCli, ServerProcess } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Asserts that `serve` stopped before listening with one line naming `names` and their removal. */
function assertRefused(result: CliResult, names: string[]): void {
  assert.equal(result.stdout, "", "nothing was served");
  const line = assertOneLineError(
    result,
    /^Error: The store holds demo users with public passwords/,
  );
  assert.ok(line.includes(`(${names.join(", ")})`), line);
  const removal = names.map((name) => `deno task user remove ${name}`).join(" && ");
  assert.ok(line.endsWith(`remove them with: ${removal}`), line);
}

async function demoUsers(dir: string): Promise<string[]> {
  const store = await SqliteStore.open(join(dir, "data/auth.db"));
  try {
    return await store.listDemoUsers();
  } finally {
    await store.close();
  }
}

Deno.test("serve refuses to start while the demo users of deno task start exist, until they are removed or get new passwords", async () => {
  await withTempDir(async (dir) => {
    const dev = new ServerProcess(["serve", "--dev", "--port", "0"], { cwd: dir });
    await dev.listening();
    assert.equal((await dev.stop("SIGTERM")).code, 0, dev.stderr);
    assert.deepEqual(await demoUsers(dir), ["user1", "user2"], "marked in the store");
    const mark = "(demo user with a public password: serve without --dev refuses to start)";
    const listed = await runCli(["user", "list"], { cwd: dir });
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, `user1  ${mark}\nuser2  ${mark}\n`, "user list marks them");

    assertRefused(await runCli(["serve", "--port", "0"], { cwd: dir }), ["user1", "user2"]);
    // Refused however often it is tried.
    assertRefused(await runCli(["serve", "--port", "0"], { cwd: dir }), ["user1", "user2"]);

    const removed = await runCli(["user", "remove", "user1"], { cwd: dir });
    assert.equal(removed.code, 0, removed.stderr);
    assertRefused(await runCli(["serve", "--port", "0"], { cwd: dir }), ["user2"]);

    // A new password makes user2 a real account.
    const changed = await runCli(["user", "passwd", "user2"], {
      cwd: dir,
      stdin: "a real password 42\n",
    });
    assert.equal(changed.code, 0, changed.stderr);
    assert.deepEqual(await demoUsers(dir), []);
    assert.equal((await runCli(["user", "list"], { cwd: dir })).stdout, "user2\n", "unmarked");

    await using server = new ServerProcess(["serve", "--port", "0"], { cwd: dir });
    const url = await server.listening();
    using client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(join(dir, "certs/cert.pem"))],
    });
    const login = async (username: string, password: string) => {
      const res = await fetch(`${url}/login`, {
        method: "POST",
        client,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await login("user2", "a real password 42"), 200);
    assert.equal(await login("user2", "password2"), 400);
    assert.equal(await login("user1", "password1"), 400);
  });
});

Deno.test("serve refuses a store seeded before demo users were marked while a demo name keeps its tutorial password", async () => {
  await withTempDir(async (dir) => {
    const hasher = new Passwords();
    const store = await SqliteStore.open(join(dir, "data/auth.db"));
    try {
      // As an older `deno task start` left them: no mark.
      await store.addUser("user1", await hasher.hash("password1"));
      await store.addUser("user2", await hasher.hash("not the tutorial's password"));
      await store.addUser("alice", await hasher.hash("password1"));
    } finally {
      await store.close();
    }
    assertRefused(await runCli(["serve", "--port", "0"], { cwd: dir }), ["user1"]);
  });
});

testNeeding([POSTGRESQL], {
  name: "serve on PostgreSQL refuses to start while a demo user exists",
  async fn() {
    await using database = await createTestDatabase();
    const store = await PostgresStore.open(database.url, { maxConnections: 1 });
    try {
      await store.addUser("user1", "$pbkdf2-sha256$i=600000$x$y", { demo: true });
    } finally {
      await store.close();
    }
    await withTempDir(async (dir) => {
      const result = await runCli(["serve", "--port", "0"], {
        cwd: dir,
        env: { DATABASE_URL: database.url },
      });
      assertRefused(result, ["user1"]);
    });
  },
});
