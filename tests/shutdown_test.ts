/**
 * @module
 * Graceful shutdown of the real server: an in-flight login, also one whose body is still arriving
 * over HTTP/1.1, is answered before connections are refused and the store closed; the serve command
 * exits 0 on SIGINT and SIGTERM; an upload that outlasts SHUTDOWN_TIMEOUT gets 503 with
 * Retry-After, never a 500, and the process exits within the bound.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { bodyInTwoHalves, loginInTwoParts } from "./helpers/held_body.ts";
import { parseLogLine, PERMISSIONS, runCli, ServerProcess } from "./helpers/process.ts";
import { serveSettings } from "./helpers/serve_child.ts";
import { startTestServer } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { sleep, waitFor } from "./helpers/wait.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { unixNow } from "../src/clock.ts";

const USERS = { user1: "password1" };
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

Deno.test("shutdown lets an in-flight login finish, then refuses connections and closes the store", async () => {
  await using server = await startTestServer({ users: USERS });
  const port = Number(new URL(server.url).port);

  const slow = bodyInTwoHalves(JSON.stringify({ username: "user1", password: "password1" }));
  const inFlight = fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: slow.stream,
  });
  await slow.firstHalfSent;
  // The login is in flight once the server has answered a later request on the same (HTTP/2)
  // connection, since it takes a connection's requests in order.
  const later = await fetch(`${server.url}/hello`, { client: server.client });
  await later.body?.cancel();
  assert.equal(later.status, 401);
  const stopping = server.running.shutdown();
  slow.sendRest();

  const res = await inFlight;
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(typeof body.access_token, "string");
  await stopping;

  const messages = server.logs.map((line) => line.msg);
  const shuttingDown = messages.indexOf("Shutting down");
  const stopped = messages.indexOf("Stopped");
  const login = server.logs.findIndex((line) => line.msg === "request" && line.path === "/login");
  assert.ok(shuttingDown >= 0 && shuttingDown < login && login < stopped, messages.join(", "));
  assert.equal(server.logs[login].status, 200);
  assert.equal(server.logs[stopped].drained, true);

  await assert.rejects(
    Deno.connect({ hostname: "localhost", port }),
    Deno.errors.ConnectionRefused,
  );
  const fresh = Deno.createHttpClient({ caCerts: [server.certPem] });
  try {
    await assert.rejects(fetch(`${server.url}/hello`, { client: fresh }), TypeError);
  } finally {
    fresh.close();
  }
  await assert.rejects(async () => await server.store.getUser("user1"));
});

function serveAndSignal(signal: Deno.Signal): Promise<void> {
  return withTempDir(async (dir) => {
    const { certPem } = await testCertificate();
    // The default layout (certs/, data/ in the working directory) the serve task may read.
    await writeTlsFiles(dir);
    await using server = new ServerProcess(["serve", "--port", "0"], {
      cwd: dir,
      flags: ["--config", CONFIG, ...PERMISSIONS],
      env: { LOG_LEVEL: "info" },
    });
    const url = await server.listening(20_000);
    assert.match(url, /^https:\/\/localhost:\d+$/);
    const client = Deno.createHttpClient({ caCerts: [certPem] });
    try {
      const res = await fetch(`${url}/hello`, { client });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    } finally {
      client.close();
    }

    const { code } = await server.stop(signal);
    assert.equal(code, 0, server.stderr);
    const messages = server.lines.map(parseLogLine).map((line) => line?.msg);
    assert.ok(messages.includes("Shutting down"), server.lines.join("\n"));
    assert.ok(messages.includes("Stopped"), server.lines.join("\n"));
    assert.ok(messages.indexOf("Shutting down") < messages.indexOf("Stopped"));
    await assert.rejects(Deno.connect({ hostname: "localhost", port: Number(new URL(url).port) }));
  });
}

Deno.test("the serve command shuts down gracefully and exits 0 on SIGINT", async () => {
  await serveAndSignal("SIGINT");
});

Deno.test("the serve command shuts down gracefully and exits 0 on SIGTERM", async () => {
  await serveAndSignal("SIGTERM");
});

/** A user of the serve children below (not a demo user, which serve refuses). */
const OPERATOR = { username: "dora", password: "dora-password-1" };

/** A serve child on a store with {@linkcode OPERATOR}, its certificate, and `env`. */
async function serveWithUser(dir: string, env: Record<string, string>): Promise<ServerProcess> {
  const settings = { ...await serveSettings(dir), ...env };
  const added = await runCli(["user", "add", OPERATOR.username], {
    cwd: dir,
    env: settings,
    stdin: `${OPERATOR.password}\n`,
  });
  assert.equal(added.code, 0, added.stderr);
  return new ServerProcess(["serve", "--port", "0"], { cwd: dir, env: settings });
}

Deno.test("SIGTERM while a login body is still arriving over HTTP/1.1: the login is answered, then the process exits", async () => {
  await withTempDir(async (dir) => {
    await using server = await serveWithUser(dir, { SHUTDOWN_TIMEOUT: "8", BODY_TIMEOUT: "30" });
    const url = await server.listening();
    using login = await loginInTwoParts(url, (await testCertificate()).certPem, OPERATOR);
    await sleep(300); // the head and half the body have arrived
    server.signal("SIGTERM");
    await server.waitForLog("Shutting down");
    await sleep(1000);
    assert.ok(!server.lines.some((line) => parseLogLine(line)?.msg === "Stopped"), "waits");
    await login.sendRest();
    const answer = await login.answer;
    assert.equal(answer.status, 200, answer.body);
    assert.equal(typeof JSON.parse(answer.body).access_token, "string");

    const { code } = await server.exitedWithin(8000);
    const exitedAfter = performance.now() - answer.at;
    assert.equal(code, 0, server.stderr);
    assert.ok(exitedAfter < 3000, `exited ${Math.round(exitedAfter)} ms after the answer`);
    const logs = server.lines.map(parseLogLine);
    assert.equal(logs.find((line) => line?.msg === "Shutting down")?.in_flight, 1);
    assert.equal(logs.find((line) => line?.msg === "Stopped")?.drained, true);
    assert.ok(!logs.some((line) => line?.level === "error"), server.lines.join("\n"));
  });
});

Deno.test("an upload that outlasts SHUTDOWN_TIMEOUT gets 503 with Retry-After, never a 500, and the process exits within the bound", async () => {
  await withTempDir(async (dir) => {
    const timeoutMs = 2000;
    await using server = await serveWithUser(dir, {
      SHUTDOWN_TIMEOUT: String(timeoutMs / 1000),
      BODY_TIMEOUT: "30",
    });
    const url = await server.listening();
    using login = await loginInTwoParts(url, (await testCertificate()).certPem, OPERATOR);
    await sleep(300);
    const signalled = performance.now();
    server.signal("SIGTERM");
    const answer = await login.answer; // the rest of the body never comes
    assert.equal(answer.status, 503, answer.body);
    assert.ok(Number(answer.headers.get("retry-after")) > 0);
    assert.equal(typeof JSON.parse(answer.body).msg, "string");
    const { code } = await server.exitedWithin(timeoutMs + 5000);
    const exitedAfter = performance.now() - signalled;
    assert.equal(code, 0, server.stderr);
    assert.ok(exitedAfter < timeoutMs + 1500, `exited ${Math.round(exitedAfter)} ms after SIGTERM`);
    const logs = server.lines.map(parseLogLine);
    assert.ok(!logs.some((line) => line?.level === "error"), server.lines.join("\n"));
    const login503 = logs.find((line) => line?.msg === "request" && line.path === "/login");
    assert.equal(login503?.status, 503);
  });
});

/** Logins of one account sent at once, all to wait for a place, in the test below. */
const WAITING_LOGINS = 6;
const SHUTTING_DOWN = "Service is shutting down; try again";

Deno.test("SIGTERM while logins of one account wait for their turn in the throttle: each is answered 503 with Retry-After, and the process exits within SHUTDOWN_TIMEOUT", async () => {
  await withTempDir(async (dir) => {
    const timeoutMs = 4000;
    // The default THROTTLE_IN_FLIGHT_WAIT (20 s), far beyond SHUTDOWN_TIMEOUT.
    await using server = await serveWithUser(dir, {
      SHUTDOWN_TIMEOUT: String(timeoutMs / 1000),
      METRICS_PORT: "0",
    });
    const url = await server.listening();
    const metricsUrl = String((await server.waitForLog("Listening")).metrics_url);
    // Every place of the account held by attempts in flight on another instance, for 30 s.
    const store = await SqliteStore.open(`${dir}/data/auth.db`);
    try {
      const now = unixNow();
      const key = `account:${OPERATOR.username}`;
      await store.updateThrottles([key], () => ({
        writes: {
          [key]: {
            failures: 0,
            windowStartAt: now,
            blockedUntil: 0,
            reservedUntil: Array(5).fill(now + 30),
          },
        },
        result: undefined,
      }));
    } finally {
      await store.close();
    }
    const client = Deno.createHttpClient({ caCerts: [(await testCertificate()).certPem] });
    try {
      // Half at POST /login, half as password grants.
      const logins = Array.from({ length: WAITING_LOGINS }, async (_, i) => {
        const res = i % 2 === 0
          ? await fetch(`${url}/login`, {
            method: "POST",
            client,
            headers: { "content-type": "application/json" },
            body: JSON.stringify(OPERATOR),
          })
          : await fetch(`${url}/oauth/token`, {
            method: "POST",
            client,
            body: new URLSearchParams({ grant_type: "password", ...OPERATOR }),
          });
        return {
          status: res.status,
          retryAfter: res.headers.get("retry-after"),
          body: await res.text(),
        };
      }).map((answer) => answer.catch((error: Error) => ({ cut: error.message })));
      await waitFor(`${WAITING_LOGINS} logins in flight`, async () => {
        const metrics = await (await fetch(metricsUrl)).text();
        const inFlight = /^auth_http_requests_in_flight (\d+)$/m.exec(metrics)?.[1];
        return Number(inFlight) >= WAITING_LOGINS;
      }, { intervalMs: 50 });
      const signalled = performance.now();
      server.signal("SIGTERM");
      const answers = await Promise.all(logins);
      for (const answer of answers) {
        assert.ok(!("cut" in answer), `a login was cut off: ${JSON.stringify(answer)}`);
        assert.equal(answer.status, 503, answer.body);
        assert.ok(Number(answer.retryAfter) > 0, `Retry-After: ${answer.retryAfter}`);
        const body = JSON.parse(answer.body);
        assert.ok(
          isDeepStrictEqual(body, { msg: SHUTTING_DOWN }) ||
            isDeepStrictEqual(body, {
              error: "temporarily_unavailable",
              error_description: SHUTTING_DOWN,
            }),
          answer.body,
        );
      }
      const { code } = await server.exitedWithin(timeoutMs + 5000);
      const exitedAfter = performance.now() - signalled;
      assert.equal(code, 0, server.stderr);
      assert.ok(exitedAfter < timeoutMs, `exited ${Math.round(exitedAfter)} ms after SIGTERM`);
      const logs = server.lines.map(parseLogLine);
      assert.equal(logs.find((line) => line?.msg === "Shutting down")?.in_flight, WAITING_LOGINS);
      assert.equal(logs.find((line) => line?.msg === "Stopped")?.drained, true);
      assert.ok(!logs.some((line) => line?.level === "error"), server.lines.join("\n"));
      assert.ok(
        !logs.some((line) => line?.event === "login_throttled" || line?.event === "login_failed"),
        "a stop is no failed or throttled login",
      );
    } finally {
      client.close();
    }
  });
});
