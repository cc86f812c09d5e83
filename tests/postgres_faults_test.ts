/**
 * @module
 * The service on PostgreSQL when the database goes away: 503 with Retry-After for what needs
 * the store, cached verification for what does not, recovery without a restart; and no
 * acknowledged write lost to a database crash. Uses clusters of its own, since it stops them.
 */
import assert from "node:assert/strict";
import { PostgresStore } from "../src/store/postgres.ts";
import { HAPROXY, startProxyFor } from "./helpers/haproxy.ts";
import { type OwnCluster, POSTGRESQL_SERVER, startOwnCluster } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { runCli } from "./helpers/process.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

const USERS = { user1: "user1-password" };
const ENV = {
  THROTTLE_FREE_FAILURES: "100",
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "1000",
  METRICS_PORT: "0",
};
/** How soon /login must work again once the database is back. */
const RECOVERY_LIMIT_MS = 5000;
/** How soon a request that needs the database must be refused while it is down. */
const REFUSAL_LIMIT_MS = 2000;
/** How long a client waits between two attempts while the database is down. */
const RETRY_INTERVAL_MS = 100;

/** Starts a cluster of this test's own and a server on it; both are gone after `fn`. */
async function withServerOnOwnCluster(
  fn: (server: TestServer, cluster: OwnCluster) => Promise<void>,
): Promise<void> {
  await using cluster = await startOwnCluster();
  const store = await PostgresStore.open(cluster.url, { maxConnections: 4 });
  await using server = await startTestServer({
    users: USERS,
    env: ENV,
    store,
    config: { databaseUrl: cluster.url },
  });
  await fn(server, cluster);
}

async function call(
  server: TestServer,
  path: string,
  init: { token?: string; json?: unknown; method?: string } = {},
): Promise<{ res: Response; text: string }> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    client: server.client,
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  return { res, text: await res.text() };
}

async function login(
  server: TestServer,
  username: string,
  password: string,
): Promise<{ access: string; refresh: string }> {
  const { res, text } = await call(server, "/login", { json: { username, password } });
  assert.equal(res.status, 200, text);
  const body = JSON.parse(text);
  return { access: body.access_token, refresh: body.refresh_token };
}

/** Polls until `/login` works again; returns how long that took, failing past the limit. */
async function untilLoginWorks(server: TestServer): Promise<number> {
  const started = performance.now();
  return await waitFor("/login to work again", async () => {
    const { res, text } = await call(server, "/login", {
      json: { username: "user1", password: USERS.user1 },
    });
    const elapsed = Math.round(performance.now() - started);
    // Checked after every answer, so that one slow answer cannot hide the delay.
    assert.ok(elapsed < RECOVERY_LIMIT_MS, `/login took ${elapsed} ms to work again`);
    if (res.status === 200) return elapsed;
    assert.equal(res.status, 503, text);
  }, { timeoutMs: RECOVERY_LIMIT_MS, intervalMs: RETRY_INTERVAL_MS });
}

/** The `auth_store_available` gauge: 1 while the store answers its health pings, else 0. */
async function storeAvailable(server: TestServer): Promise<string | undefined> {
  const text = await (await fetch(server.running.metricsUrl!)).text();
  return /^auth_store_available (\d)/m.exec(text)?.[1];
}

/** Fails for a 5xx other than 503, and for anything that looks like a stack or a SQL error. */
function assertNoLeak(what: string, res: Response, text: string): void {
  assert.ok(res.status < 500 || res.status === 503, `${what}: status ${res.status} ${text}`);
  assert.doesNotMatch(text, /\bat .+:\d+:\d+|\.ts\b|postgres|ECONN|SQLSTATE/i, what);
  assert.doesNotThrow(() => JSON.parse(text), `${what}: JSON body`);
}

testNeeding([POSTGRESQL_SERVER], {
  name: "With PostgreSQL down, store work answers 503 + Retry-After, cached tokens verify, the " +
    "instance stays ready and reports the outage, and the service recovers without a restart",
  async fn() {
    await withServerOnOwnCluster(async (server, cluster) => {
      const seen = await login(server, "user1", USERS.user1);
      const { res: ok } = await call(server, "/hello", { token: seen.access });
      assert.equal(ok.status, 200, "verified once, so cached");
      // Signed before the outage but never presented: verifies with the keys held in memory.
      const unseen = await login(server, "user1", USERS.user1);

      await cluster.stop("fast");
      const outageStarted = performance.now();

      const { res, text } = await call(server, "/login", {
        json: { username: "user1", password: USERS.user1 },
      });
      assert.equal(res.status, 503, text);
      assert.deepEqual(Object.keys(JSON.parse(text)), ["msg"]);
      assert.equal(typeof JSON.parse(text).msg, "string");
      const retryAfter = res.headers.get("retry-after");
      assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter) && Number(retryAfter) > 0);
      assertNoLeak("/login", res, text);

      const needsStore: [string, Parameters<typeof call>[2]][] = [
        ["/login", { json: { username: "user1", password: "wrong-password" } }],
        ["/login", { json: { username: "nobody", password: "whatever-password" } }],
        ["/refresh", { json: { refresh_token: seen.refresh } }],
        ["/logout", { method: "POST", token: seen.access }],
      ];
      for (const [path, init] of needsStore) {
        const answer = await call(server, path, init);
        assertNoLeak(path, answer.res, answer.text);
        assert.equal(answer.res.status, 503, `${path}: ${answer.text}`);
        assert.ok(answer.res.headers.has("retry-after"), path);
      }
      // The OAuth password grant too.
      const form = await fetch(`${server.url}/oauth/token`, {
        method: "POST",
        client: server.client,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "password",
          username: "user1",
          password: USERS.user1,
        }),
      });
      const formText = await form.text();
      assertNoLeak("/oauth/token password grant", form, formText);
      assert.equal(form.status, 503, formText);

      // The documented choice: verification needs no store, so cached and unseen tokens work
      // (the failed logout above did not revoke anything).
      for (const token of [seen.access, unseen.access]) {
        const hello = await call(server, "/hello", { token });
        assert.equal(hello.res.status, 200, hello.text);
      }
      const jwks = await call(server, "/.well-known/jwks.json");
      assert.equal(jwks.res.status, 200);

      // So the instance can serve: readiness stays up and names the outage, as do the metrics
      // and one log line.
      const readiness = await call(server, "/health/ready");
      assert.equal(readiness.res.status, 200, readiness.text);
      const { status, store } = JSON.parse(readiness.text);
      assert.equal(status, "ready");
      assert.ok(store === "unavailable" || store === "timed_out", readiness.text);
      assert.equal(await storeAvailable(server), "0");
      assert.ok(server.logs.some((log) => String(log.msg).startsWith("Store not answering")));

      // Clients (and the background key and revocation sync) keep trying for a while: each
      // attempt is refused promptly, however many failed before.
      let slowest = 0;
      while (performance.now() - outageStarted < 3000) {
        const started = performance.now();
        const attempt = await call(server, "/login", {
          json: { username: "user1", password: USERS.user1 },
        });
        const took = Math.round(performance.now() - started);
        slowest = Math.max(slowest, took);
        assert.equal(attempt.res.status, 503, attempt.text);
        assert.ok(took < REFUSAL_LIMIT_MS, `a 503 took ${took} ms`);
        await sleep(RETRY_INTERVAL_MS);
      }

      await cluster.start();
      const recoveryMs = await untilLoginWorks(server);
      console.log(
        `Outage: slowest 503 in ${slowest} ms; /login worked again ${recoveryMs} ms after the ` +
          "cluster was back",
      );
      // Everything that needs the store works again, on the same running service.
      const refreshed = await call(server, "/refresh", { json: { refresh_token: seen.refresh } });
      assert.equal(refreshed.res.status, 200, refreshed.text);
      const out = await call(server, "/logout", { method: "POST", token: unseen.access });
      assert.equal(out.res.status, 200, out.text);
      assert.equal((await call(server, "/hello", { token: unseen.access })).res.status, 401);

      assert.ok(server.logs.some((log) => log.msg === "Store unavailable"));
      const back = await call(server, "/health/ready");
      assert.deepEqual(JSON.parse(back.text), { status: "ready", store: "ok" });
      assert.equal(await storeAvailable(server), "1");
      assert.ok(server.logs.some((log) => log.msg === "Store answers again"));
      const errors = server.logs.filter((log) => log.level === "error");
      assert.deepEqual(errors, [], "no unhandled errors");
      assert.ok(!server.rawLogs.some((line) => line.includes(USERS.user1)), "no password logged");
    });
  },
});

testNeeding([POSTGRESQL_SERVER], {
  name: "Acknowledged logins and CLI user adds survive a PostgreSQL crash (immediate stop)",
  async fn() {
    await withServerOnOwnCluster(async (server, cluster) => {
      const newUsers = ["dora", "eve", "finn"];
      const [sessions, added] = await Promise.all([
        Promise.all(Array.from({ length: 20 }, () => login(server, "user1", USERS.user1))),
        Promise.all(newUsers.map((name) =>
          runCli(["user", "add", name], {
            env: { DATABASE_URL: cluster.url },
            stdin: `${name}-password-1\n`,
          })
        )),
      ]);
      for (const [index, result] of added.entries()) {
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`Added user "${newUsers[index]}"`));
      }

      // A crash: no shutdown checkpoint; recovery must replay the WAL.
      await cluster.stop("immediate");
      await cluster.start();
      await untilLoginWorks(server);

      for (const [index, { refresh }] of sessions.entries()) {
        const { res, text } = await call(server, "/refresh", { json: { refresh_token: refresh } });
        assert.equal(res.status, 200, `refresh token ${index}: ${text}`);
        const access = JSON.parse(text).access_token;
        assert.equal((await call(server, "/hello", { token: access })).res.status, 200);
      }
      for (const name of newUsers) await login(server, name, `${name}-password-1`);
      assert.deepEqual(
        (await server.store.listUsers()).sort(),
        [...newUsers, "user1"].sort(),
      );
    });
  },
});

testNeeding([POSTGRESQL_SERVER, HAPROXY], {
  name: "Behind the HAProxy configuration, an instance whose PostgreSQL is down stays in: tokens " +
    "verify through the proxy, and what needs the store gets the instance's own 503",
  async fn() {
    await withServerOnOwnCluster(async (server, cluster) => {
      await using proxy = await startProxyFor(server, { PROXY_CHECK_INTERVAL: "300ms" });
      const through = { ...server, url: proxy.url };
      const { access } = await login(through, "user1", USERS.user1);

      await cluster.stop("fast");
      // Many more checks than it takes to go out (2 failures).
      await sleep(2000);
      for (let i = 0; i < 10; i++) {
        const hello = await call(through, "/hello", { token: access });
        assert.equal(hello.res.status, 200, hello.text);
        await sleep(100);
      }
      const refused = await call(through, "/login", {
        json: { username: "user1", password: USERS.user1 },
      });
      assert.equal(refused.res.status, 503, refused.text);
      assert.equal(typeof JSON.parse(refused.text).msg, "string", "the instance's answer");
      assert.ok(refused.res.headers.has("retry-after"));
      assert.ok(!proxy.logs.some((line) => / is DOWN/.test(line)), proxy.logs.join("\n"));

      await cluster.start();
      await untilLoginWorks(through);
    });
  },
});
