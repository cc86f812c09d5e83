/**
 * @module
 * Passwords at login over real HTTPS: names with NUL, controls or broken Unicode answer 400 (on
 * SQLite and on PostgreSQL), a stored hash this service would not make fails every login and is
 * logged once, an unknown user costs what most stored hashes cost, and a login's rehash never
 * undoes a `user passwd` that ran meanwhile, over many racing rounds.
 */
import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import { type PasswordCheck, Passwords } from "../src/auth/accounts/passwords.ts";
import { userCommand } from "../src/cli/user.ts";
import { unixNow } from "../src/clock.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import type { Store } from "../src/store/store.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import {
  login,
  startTestServer,
  TEST_ITERATIONS,
  TEST_MIN_ITERATIONS,
  testHasher,
  type TestServer,
} from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const USERS = { user1: "password1" };
const NO_THROTTLE = {
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "100000",
  THROTTLE_FREE_FAILURES: "1000",
};

async function postLogin(
  server: TestServer,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function passwordGrant(
  server: TestServer,
  username: string,
  password: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    client: server.client,
    body: new URLSearchParams({ grant_type: "password", username, password }),
  });
  return { status: res.status, body: await res.json() };
}

function assertNoServerErrors(server: TestServer): void {
  for (const line of server.logs) {
    assert.ok(line.level !== "error", JSON.stringify(line));
    if (line.msg === "request") assert.ok((line.status as number) < 500, JSON.stringify(line));
  }
}

/** Names no account can have: NUL (PostgreSQL refuses it in text), other controls, lone surrogates. */
const IMPOSSIBLE_NAMES = [
  "a\u0000b",
  "\u0000",
  "user1\u0000",
  "\u0000user1",
  "user1\u0007",
  "\ud800",
  "user1\udfff",
  "\u202euser1",
];

async function assertImpossibleNamesRefused(server: TestServer): Promise<void> {
  for (const username of IMPOSSIBLE_NAMES) {
    const what = JSON.stringify(username);
    const answer = await postLogin(server, { username, password: "password1" });
    assert.deepEqual(answer, { status: 400, body: { msg: "Invalid credentials" } }, what);
    const grant = await passwordGrant(server, username, "password1");
    assert.equal(grant.status, 400, what);
    assert.equal(grant.body.error, "invalid_grant", what);
  }
  // The store still works, and the real user is unaffected.
  assert.equal((await login(server, "user1", "password1")).res.status, 200);
  assertNoServerErrors(server);
}

Deno.test("POST /login and the password grant answer 400 for names with NUL, controls or broken Unicode (SQLite)", async () => {
  await using server = await startTestServer({ users: USERS, env: NO_THROTTLE });
  await assertImpossibleNamesRefused(server);
});

testNeeding([POSTGRESQL], {
  name:
    "POST /login and the password grant answer 400 for names with NUL, controls or broken Unicode (PostgreSQL)",
  async fn() {
    await using database = await createTestDatabase();
    const store = await PostgresStore.open(database.url, { maxConnections: 2 });
    await using server = await startTestServer({ users: USERS, env: NO_THROTTLE, store });
    await assertImpossibleNamesRefused(server);
  },
});

/** A PHC string over `password` whose digest is cut to `digestBytes` (not a hash we make). */
function shortDigestHash(password: string, digestBytes: number): string {
  const salt = new Uint8Array(16).fill(3);
  const digest = new Uint8Array(pbkdf2Sync(password, salt, TEST_ITERATIONS, 32, "sha256"));
  return `$pbkdf2-sha256$i=${TEST_ITERATIONS}$${salt.toBase64({ omitPadding: true })}$${
    digest.subarray(0, digestBytes).toBase64({ omitPadding: true })
  }`;
}

Deno.test("a stored hash that is not exactly one this service makes fails every login and is logged once, not per attempt", async () => {
  await using server = await startTestServer({ users: USERS, env: NO_THROTTLE });
  // A 1-byte digest let about 1 in 256 wrong passwords in; 100 M iterations took 16 s per login.
  await server.store.addUser("short", shortDigestHash("right password", 1));
  const salt = "A".repeat(22);
  await server.store.addUser("slow", `$pbkdf2-sha256$i=100000000$${salt}$${"B".repeat(43)}`);

  for (
    const password of [
      "right password",
      ...Array.from({ length: 400 }, (_, i) => `wrong-${i}`),
    ]
  ) {
    const answer = await postLogin(server, { username: "short", password });
    assert.deepEqual(answer, { status: 400, body: { msg: "Invalid credentials" } }, password);
  }
  for (let i = 0; i < 3; i++) {
    assert.equal((await postLogin(server, { username: "slow", password: `x${i}` })).status, 400);
  }
  const reports = server.logs.filter((line) => line.level === "error");
  assert.deepEqual(
    reports.map((line) => [line.msg, line.user, line.fix]),
    [
      [
        "Stored password hash cannot be checked; logins fail until it is reset",
        "short",
        "deno task user passwd short",
      ],
      [
        "Stored password hash cannot be checked; logins fail until it is reset",
        "slow",
        "deno task user passwd slow",
      ],
    ],
  );
  assert.match(String(reports[1].problem), /iteration count 100000000 outside/);
  for (const line of server.rawLogs) assert.ok(!line.includes("right password"), line);
  assert.equal((await login(server, "user1", "password1")).res.status, 200);
});

/** Records the iteration count of every stored string checked, dummy or real. */
class RecordingHasher extends Passwords {
  checked: number[] = [];

  override async verify(password: string, stored: string): Promise<PasswordCheck> {
    this.checked.push(Number(/\$i=(\d+)\$/.exec(stored)?.[1]));
    return await super.verify(password, stored);
  }
}

Deno.test("an unknown user's login costs the iteration count most stored hashes have, not the configured one", async () => {
  const hasher = new RecordingHasher(TEST_ITERATIONS, { minIterations: TEST_MIN_ITERATIONS });
  await using dir = await tempDir();
  const store = await SqliteStore.open(`${dir.path}/auth.db`);
  const older = testHasher(3000);
  for (const name of ["old1", "old2", "old3"]) await store.addUser(name, await older.hash("pw"));
  await store.addUser("new1", await testHasher().hash("pw"));
  await using server = await startTestServer({ hasher, store, dir: dir.path, env: NO_THROTTLE });
  assert.equal((await postLogin(server, { username: "nobody", password: "pw" })).status, 400);
  assert.equal((await postLogin(server, { username: "old1", password: "no" })).status, 400);
  assert.deepEqual(hasher.checked, [3000, 3000], "the dummy costs what old1's hash does");
  assert.equal(Number(/\$i=(\d+)\$/.exec(await hasher.prepare())?.[1]), 3000);
});

/** A store whose next rehash waits for `beforeRehash` first: the worst moment for a change. */
function pausingBeforeRehash(store: Store, beforeRehash: () => Promise<void>): Store {
  return new Proxy(store, {
    get(target, name) {
      if (name === "replacePasswordHash") {
        return async (username: string, expected: string, hash: string) => {
          await beforeRehash();
          return await target.replacePasswordHash(username, expected, hash);
        };
      }
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("a login's rehash never undoes a user passwd that ran between its check and its upgrade, and the login starts no session", async () => {
  await using dir = await tempDir();
  const store = await SqliteStore.open(`${dir.path}/auth.db`);
  await store.addUser("alice", await testHasher(500).hash("old password"));
  let passwdRan = false;
  const paused = pausingBeforeRehash(store, async () => {
    // `user passwd alice`, from another process on the same file.
    const cli = await SqliteStore.open(`${dir.path}/auth.db`);
    try {
      await userCommand(["passwd", "alice"], {
        store: cli,
        hasher: testHasher(),
        readPassword: () => Promise.resolve("new password 1"),
      });
      passwdRan = true;
    } finally {
      await cli.close();
    }
  });
  await using server = await startTestServer({ store: paused, dir: dir.path, env: NO_THROTTLE });
  // The password it checked is no longer the user's when the session would start.
  const raced = await login(server, "alice", "old password");
  assert.deepEqual([raced.res.status, raced.body], [400, { msg: "Invalid credentials" }]);
  assert.ok(passwdRan);
  assert.equal((await login(server, "alice", "new password 1")).res.status, 200);
  const old = await postLogin(server, { username: "alice", password: "old password" });
  assert.equal(old.status, 400, "the old password does not come back");
});

Deno.test("logins that upgrade a hash racing user passwd, many rounds: the new password always wins", async () => {
  await using server = await startTestServer({
    env: NO_THROTTLE,
    config: { passwordIterations: 20_000 },
  });
  const other = await SqliteStore.open(`${server.dir}/data/auth.db`);
  try {
    const old = await testHasher(500).hash("old password");
    await other.addUser("alice", old);
    for (let round = 0; round < 30; round++) {
      await other.changePassword("alice", old, unixNow());
      const passwd = userCommand(["passwd", "alice"], {
        store: other,
        // A different cost each round, so that the change lands at different points of the login.
        hasher: testHasher(500 + round * 1500),
        readPassword: () => Promise.resolve(`new password ${round}`),
      });
      const logins = Promise.all(
        Array.from(
          { length: 3 },
          () => postLogin(server, { username: "alice", password: "old password" }),
        ),
      );
      const [, answers] = await Promise.all([passwd, logins]);
      for (const answer of answers) assert.ok(answer.status === 200 || answer.status === 400);
      const now = await postLogin(server, { username: "alice", password: `new password ${round}` });
      assert.equal(now.status, 200, `round ${round}: the new password works`);
      const before = await postLogin(server, { username: "alice", password: "old password" });
      assert.equal(before.status, 400, `round ${round}: the old password is gone`);
    }
    assertNoServerErrors(server);
  } finally {
    await other.close();
  }
});
