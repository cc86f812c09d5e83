/**
 * @module
 * Opening the store a DATABASE_URL names (`openStore`): an unsupported or path-less URL is refused
 * with a one-line StoreConfigError that never shows a password from the URL, and `sqlite::memory:`
 * and a SQLite file open, the file's directory made on the way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { StoreConfigError } from "../src/store/errors.ts";
import { openStore } from "../src/store/open.ts";
import { rejectionOf } from "./helpers/errors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

/** Asserts that `promise` rejects with a one-line StoreConfigError whose message matches. */
async function assertConfigRejects(promise: Promise<unknown>, pattern: RegExp): Promise<string> {
  const caught = await rejectionOf(promise, StoreConfigError);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes("\n"));
  return caught.message;
}

Deno.test("openStore rejects an unsupported DATABASE_URL with a StoreConfigError", async () => {
  await assertConfigRejects(openStore("mysql://x"), /DATABASE_URL.*sqlite:/);
  await assertConfigRejects(openStore("data/auth.db"), /DATABASE_URL/);
});

Deno.test("openStore never prints a password from the DATABASE_URL", async () => {
  for (
    const url of [
      "postgres://u:secret@h/db",
      "postgres://u:secret@h:5432/db?sslmode=require",
      "postgresql://u:sec@ret@h/db",
      "postgres://h/db?user=u&password=secret",
      "postgres://u:secret@h/db\nnext",
    ]
  ) {
    const message = await assertConfigRejects(openStore(url), /DATABASE_URL/);
    assert.ok(!message.includes("secret"), message);
    assert.ok(!message.includes("ret@"), message);
  }
});

Deno.test("openStore rejects sqlite: without a path", async () => {
  await assertConfigRejects(openStore("sqlite:"), /DATABASE_URL/);
});

Deno.test("openStore opens sqlite::memory: and a sqlite file, creating its directory", async () => {
  const memory = await openStore("sqlite::memory:");
  assert.deepEqual(await memory.listUsers(), []);
  await memory.close();
  await withTempDir(async (dir) => {
    const path = join(dir, "nested", "auth.db");
    const store = await openStore(`sqlite:${path}`);
    await store.addUser("alice", "$hash");
    await store.close();
    assert.ok((await Deno.stat(path)).isFile);
  });
});
