/**
 * @module
 * `user logout`, `user passwd` and `user remove`, run from the command line while two instances
 * serve from the same database, end every session of the user: refresh tokens at once, access
 * tokens on both instances within the revocation sync.
 */
import assert from "node:assert/strict";
import { type Cluster, eventually, plantSession, startCluster } from "./helpers/cluster.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { runCli, type ServerProcess } from "./helpers/process.ts";

const USERS = {
  alice: "alice-password-1",
  bob: "bob-password-1",
  carol: "carol-password-1",
  dave: "dave-password-1",
  erin: "erin-password-1",
};
type User = keyof typeof USERS;

interface Session {
  access: string;
  refresh: string;
}

async function login(
  cluster: Cluster,
  server: ServerProcess,
  username: string,
  password: string,
): Promise<{ status: number; session?: Session }> {
  const { status, body } = await cluster.call(server, "/login", { json: { username, password } });
  if (status !== 200) return { status };
  return {
    status,
    session: { access: body.access_token as string, refresh: body.refresh_token as string },
  };
}

/** Three sessions of `user`: a real login on A and a session started on each instance. */
async function sessionsOf(cluster: Cluster, user: User): Promise<Session[]> {
  const first = await login(cluster, cluster.a, user, USERS[user]);
  assert.equal(first.status, 200);
  return [
    first.session!,
    await plantSession(cluster, cluster.a, user),
    await plantSession(cluster, cluster.b, user),
  ];
}

async function user(cluster: Cluster, args: string[], stdin?: string): Promise<string> {
  const result = await runCli(["user", ...args], {
    cwd: cluster.dir,
    env: { DATABASE_URL: cluster.databaseUrl },
    stdin,
  });
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

async function helloStatus(cluster: Cluster, server: ServerProcess, token: string) {
  return (await cluster.call(server, "/hello", { token })).status;
}

/**
 * Asserts that every session is over: each refresh token refused by both instances at once, each
 * access token refused as revoked by both within the sync deadline. Returns the milliseconds the
 * access tokens took.
 */
async function assertEnded(cluster: Cluster, sessions: Session[]): Promise<number> {
  for (const { refresh } of sessions) {
    for (const server of [cluster.a, cluster.b]) {
      const { status, body } = await cluster.call(server, "/refresh", {
        json: { refresh_token: refresh },
      });
      assert.equal(status, 400, `${server.name}: ${JSON.stringify(body)}`);
      assert.equal(body.error, "invalid_grant");
    }
  }
  return await eventually("access tokens refused on both instances", async () => {
    for (const { access } of sessions) {
      for (const server of [cluster.a, cluster.b]) {
        const { status, body } = await cluster.call(server, "/hello", { token: access });
        if (status === 200) return false;
        assert.equal(status, 401);
        assert.deepEqual(body, { msg: "Token has been revoked" });
      }
    }
    return true;
  });
}

/** Asserts that a session works on both instances. */
async function assertWorks(cluster: Cluster, session: Session): Promise<void> {
  for (const server of [cluster.a, cluster.b]) {
    assert.equal(await helloStatus(cluster, server, session.access), 200, server.name);
  }
  const { status, body } = await cluster.call(cluster.b, "/refresh", {
    json: { refresh_token: session.refresh },
  });
  assert.equal(status, 200, JSON.stringify(body));
}

for (const kind of ["sqlite", "postgres"] as const) {
  testNeeding(kind === "postgres" ? [POSTGRESQL] : [], {
    name: `${
      kind === "sqlite" ? "SQLite" : "PostgreSQL"
    }, two instances: user logout, user passwd and user remove end the user's sessions everywhere and say so`,
    async fn(t) {
      // Failed logins with the old password must not throttle the account in this test.
      await using cluster = await startCluster(kind, USERS, { THROTTLE_FREE_FAILURES: "1000" });
      const figures: Record<string, number> = {};
      const bystander = (await sessionsOf(cluster, "bob"))[2];

      await t.step("user logout NAME", async () => {
        const sessions = await sessionsOf(cluster, "alice");
        // Both instances have verified (and cached) the access tokens before.
        for (const { access } of sessions) {
          for (const server of [cluster.a, cluster.b]) {
            assert.equal(await helloStatus(cluster, server, access), 200);
          }
        }
        assert.equal(
          await user(cluster, ["logout", "alice"]),
          'Logged out "alice": ended 3 sessions',
        );
        figures.logout = await assertEnded(cluster, sessions);
        assert.equal(
          await user(cluster, ["logout", "alice"]),
          'Logged out "alice": ended 0 sessions',
        );
        // The user can log in again.
        const again = await login(cluster, cluster.a, "alice", USERS.alice);
        assert.equal(again.status, 200);
        await assertWorks(cluster, again.session!);
      });

      await t.step("user passwd NAME", async () => {
        const sessions = await sessionsOf(cluster, "carol");
        const out = await user(cluster, ["passwd", "carol"], "carol-password-2\n");
        assert.equal(out, 'Changed the password of "carol" and ended 3 sessions');
        figures.passwd = await assertEnded(cluster, sessions);
        assert.equal((await login(cluster, cluster.b, "carol", USERS.carol)).status, 400);
        const fresh = await login(cluster, cluster.b, "carol", "carol-password-2");
        assert.equal(fresh.status, 200);
        await assertWorks(cluster, fresh.session!);
      });

      await t.step("user remove NAME", async () => {
        const sessions = await sessionsOf(cluster, "dave");
        assert.equal(
          await user(cluster, ["remove", "dave"]),
          'Removed user "dave" and ended 3 sessions',
        );
        figures.remove = await assertEnded(cluster, sessions);
        assert.equal((await login(cluster, cluster.a, "dave", USERS.dave)).status, 400);
        const { stderr, code } = await runCli(["user", "logout", "dave"], {
          cwd: cluster.dir,
          env: { DATABASE_URL: cluster.databaseUrl },
        });
        assert.equal(code, 1);
        assert.equal(stderr, 'Error: User "dave" does not exist\n');
      });

      await t.step(
        "logins with the old password while user passwd runs leave no session behind",
        async () => {
          const started: Session[] = [];
          let refused = 0;
          let done = false;
          const loginLoop = async (server: ServerProcess) => {
            while (!done) {
              const result = await login(cluster, server, "erin", USERS.erin);
              if (result.session) started.push(result.session);
              else refused++;
            }
          };
          const loops = [loginLoop(cluster.a), loginLoop(cluster.b)];
          await eventually("a first login", () => Promise.resolve(started.length > 0));
          const passwd = user(cluster, ["passwd", "erin"], "erin-password-2\n");
          await passwd.finally(() => done = true);
          await Promise.all(loops);
          assert.ok(started.length > 0);
          console.log(
            `${started.length} logins succeeded and ${refused} were refused around user passwd`,
          );
          await assertEnded(cluster, started);
          assert.equal((await login(cluster, cluster.a, "erin", USERS.erin)).status, 400);
        },
      );

      await t.step("other users' sessions are untouched", async () => {
        await assertWorks(cluster, bystander);
      });
      console.log(`${cluster.kind}, ms until both instances refused: ${JSON.stringify(figures)}`);
    },
  });
}
