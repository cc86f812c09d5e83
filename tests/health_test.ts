/**
 * @module
 * The health endpoints over real HTTPS: /health/live and /health/ready answer without
 * authentication and stay out of the access log unless LOG_HEALTH_CHECKS is set; readiness reports
 * a failing or hanging store in its body, a metric and one log line per change, answers 503 once
 * the instance drains, and never hashes a password.
 */
import assert from "node:assert/strict";
import { StoreFailure } from "../src/store/errors.ts";
import type { Store } from "../src/store/store.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { CountingHasher, startTestServer, type TestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";

async function get(server: TestServer, path: string) {
  const res = await fetch(`${server.url}${path}`, { client: server.client });
  return { res, body: await res.json() };
}

/** A store whose ping can be made to fail or hang, for readiness tests. */
function controllableStore(store: Store, mode: { ping: "ok" | "fail" | "hang" }): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== "ping") return typeof value === "function" ? value.bind(target) : value;
      return () => {
        if (mode.ping === "fail") {
          return Promise.reject(new StoreFailure("unavailable", "Database unavailable: down"));
        }
        if (mode.ping === "hang") return new Promise(() => {});
        return target.ping();
      };
    },
  });
}

Deno.test("GET /health/live and /health/ready answer 200 JSON without authentication", async () => {
  await using server = await startTestServer();
  const live = await get(server, "/health/live");
  assert.equal(live.res.status, 200);
  assert.deepEqual(live.body, { status: "ok" });
  const ready = await get(server, "/health/ready");
  assert.equal(ready.res.status, 200);
  assert.deepEqual(ready.body, { status: "ready", store: "ok" });
  assert.equal(ready.res.headers.get("cache-control"), "no-store");
});

Deno.test("health checks stay out of the access log unless LOG_HEALTH_CHECKS is set", async () => {
  {
    await using server = await startTestServer();
    await get(server, "/health/live");
    await get(server, "/health/ready");
    await (await fetch(`${server.url}/hello`, { client: server.client })).body?.cancel();
    const paths = server.logs.filter((line) => line.msg === "request").map((line) => line.path);
    assert.deepEqual(paths, ["/hello"]);
  }
  {
    await using server = await startTestServer({ env: { LOG_HEALTH_CHECKS: "true" } });
    await get(server, "/health/ready");
    const paths = server.logs.filter((line) => line.msg === "request").map((line) => line.path);
    assert.deepEqual(paths, ["/health/ready"]);
  }
});

Deno.test("GET /health/ready stays 200 while the store fails or hangs, and reports it in the body, a metric and one log line per change", async () => {
  const mode: { ping: "ok" | "fail" | "hang" } = { ping: "ok" };
  await using dir = await tempDir();
  const store = controllableStore(await SqliteStore.open(`${dir.path}/auth.db`), mode);
  await using server = await startTestServer({ store, dir: dir.path, env: { METRICS_PORT: "0" } });
  const storeAvailable = async () => {
    const text = await (await fetch(server.running.metricsUrl!)).text();
    return /^auth_store_available (\d)/m.exec(text)?.[1];
  };
  const ready = await get(server, "/health/ready");
  assert.equal(ready.res.status, 200);
  assert.deepEqual(ready.body, { status: "ready", store: "ok" });
  assert.equal(await storeAvailable(), "1");

  mode.ping = "fail";
  for (let i = 0; i < 3; i++) {
    const failing = await get(server, "/health/ready");
    assert.equal(failing.res.status, 200, "tokens verify from memory: still ready");
    assert.deepEqual(failing.body, { status: "ready", store: "unavailable" });
  }
  assert.equal(await storeAvailable(), "0");
  mode.ping = "hang";
  const started = performance.now();
  const hanging = await get(server, "/health/ready");
  assert.equal(hanging.res.status, 200);
  assert.deepEqual(hanging.body, { status: "ready", store: "timed_out" });
  assert.ok(performance.now() - started < 3000, "the ping is bounded");
  const live = await get(server, "/health/live");
  assert.equal(live.res.status, 200, "liveness does not depend on the store");

  mode.ping = "ok";
  assert.deepEqual((await get(server, "/health/ready")).body, { status: "ready", store: "ok" });
  assert.equal(await storeAvailable(), "1");
  const changes = server.logs.filter((line) => String(line.msg).startsWith("Store "));
  assert.deepEqual(changes.map((line) => [line.level, line.msg, line.store]), [
    ["warn", "Store not answering; still ready, since tokens verify from memory", "unavailable"],
    ["info", "Store answers again", undefined],
  ]);
});

Deno.test("GET /health/ready answers 503 once the instance drains, and /health/live stays 200", async () => {
  await using server = await startTestServer({ config: { drainDelayMs: 500 } });
  assert.equal((await get(server, "/health/ready")).res.status, 200);
  const draining = server.running.drain();
  const ready = await get(server, "/health/ready");
  assert.equal(ready.res.status, 503);
  assert.deepEqual(ready.body, { status: "not_ready", reason: "shutting down" });
  assert.ok(Number(ready.res.headers.get("retry-after")) > 0);
  assert.equal((await get(server, "/health/live")).res.status, 200);
  await draining;
});

Deno.test("GET /health/ready never hashes a password, whatever it is sent", async () => {
  const hasher = new CountingHasher();
  await using server = await startTestServer({ hasher });
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${server.url}/health/ready`, {
      client: server.client,
      headers: { authorization: `Basic ${btoa("user1:password1")}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  assert.equal(hasher.checks, 0);
});
