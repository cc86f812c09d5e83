/**
 * @module
 * File permissions of what the server writes: a SQLite store opened under umask 000 makes its
 * directory 0700 and every file, WAL and SHM included, 0600; files others could read are tightened
 * and reported; and `serve` warns once at start when the store was open to others.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore } from "../src/store/open.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { NO_USERS } from "../src/check.ts";
import { runCli, ServerProcess } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { writeTlsFiles } from "./helpers/tls.ts";

const FILES = ["auth.db", "auth.db-wal", "auth.db-shm"];

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

/** Runs `fn` with the process umask 000, so that only the modes asked for protect the files. */
async function withOpenUmask<T>(fn: () => Promise<T>): Promise<T> {
  const previous = Deno.umask(0);
  try {
    return await fn();
  } finally {
    Deno.umask(previous);
  }
}

Deno.test("SqliteStore.open under umask 000 creates the directory 0700 and every file, the lazily made -wal and -shm too, 0600", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "data");
    const path = join(data, "auth.db");
    await withOpenUmask(async () => {
      for (let round = 0; round < 2; round++) {
        // Closing the last connection deletes the -wal file; the next open makes it again.
        const store = await SqliteStore.open(path);
        try {
          assert.deepEqual(store.looseModes, []);
          await store.addUser(`user${round}`, "$hash");
          assert.equal(mode(data), 0o700);
          for (const file of FILES) assert.equal(mode(join(data, file)), 0o600, file);
        } finally {
          await store.close();
        }
      }
    });
    // A second process (the CLI) writing while the first has it open.
    const store = await SqliteStore.open(path);
    try {
      const added = await withOpenUmask(() =>
        runCli(["user", "add", "carol"], { cwd: dir, stdin: "carol's password\n" })
      );
      assert.equal(added.code, 0, added.stderr);
      assert.deepEqual(await store.listUsers(), ["carol", "user0", "user1"]);
      for (const file of FILES) assert.equal(mode(join(data, file)), 0o600, file);
    } finally {
      await store.close();
    }
  });
});

Deno.test("SqliteStore.open tightens files others could read to 0600, reports them and the directory, and leaves the directory alone", async () => {
  await withTempDir(async (dir) => {
    const data = join(dir, "data");
    const path = join(data, "auth.db");
    const first = await SqliteStore.open(path);
    await first.addUser("alice", "$hash");
    // Kept open so that -wal and -shm exist while the files are loosened, as an older version
    // left them.
    try {
      Deno.chmodSync(data, 0o755);
      for (const file of FILES) Deno.chmodSync(join(data, file), 0o644);
      const warnings: string[] = [];
      const store = await openStore(`sqlite:${path}`, { warn: (line) => warnings.push(line) });
      try {
        assert.deepEqual((store as SqliteStore).looseModes, [
          `"${data}" 0755`,
          ...FILES.map((file) => `"${join(data, file)}" 0644`),
        ]);
        assert.equal(warnings.length, 1, "one line");
        assert.match(warnings[0], /other users could reach .*0755.*0644/);
        assert.match(warnings[0], /chmod 700/);
        for (const file of FILES) assert.equal(mode(join(data, file)), 0o600, file);
        assert.equal(mode(data), 0o755, "the directory is the operator's to change");
      } finally {
        await store.close();
      }
      Deno.chmodSync(data, 0o700);
      const again = await openStore(`sqlite:${path}`, { warn: (line) => warnings.push(line) });
      await again.close();
      assert.equal(warnings.length, 1, "no warning once all is private");
    } finally {
      await first.close();
    }
  });
});

Deno.test("serve logs one warning line at start when the store's directory and files were open to others", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    await Deno.mkdir(join(dir, "data"), { mode: 0o755 });
    Deno.chmodSync(join(dir, "data"), 0o755);
    await Deno.writeFile(join(dir, "data/auth.db"), new Uint8Array(), { mode: 0o644 });
    Deno.chmodSync(join(dir, "data/auth.db"), 0o644);

    await using server = new ServerProcess(["serve", "--port", "0"], {
      cwd: dir,
      env: { LOG_LEVEL: "info" },
    });
    await server.listening();
    // Besides the line saying that the store has no users yet.
    const warnings = server.logs.filter((line) => line.level === "warn" && line.msg !== NO_USERS);
    assert.equal(warnings.length, 1, server.lines.join("\n"));
    assert.match(String(warnings[0].msg), /"data" 0755, "data\/auth\.db" 0644/);
    for (const file of FILES) assert.equal(mode(join(dir, "data", file)), 0o600, file);
  });
});
