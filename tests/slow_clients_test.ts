/**
 * @module
 * Slow and idle clients behind HAProxy with the configuration of src/deploy/haproxy.cfg in front of
 * the real server: connections that never finish the TLS handshake, the request head or the body
 * are closed in time, one address gets at most PROXY_MAX_CONN_PER_ADDRESS connections, the service
 * sees the address the proxy saw, and src/deploy/README.md documents every setting with its
 * default.
 */
import assert from "node:assert/strict";
import { HAPROXY, haproxyConfig, type RunningProxy, startProxyFor } from "./helpers/haproxy.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { serveTls, testCertificate } from "./helpers/tls.ts";
import { hello, loginToken, startTestServer, type TestServer } from "./helpers/server.ts";
import {
  openSlowClients,
  openSlowConnection,
  SLOW_KINDS,
  type SlowConnection,
  type SlowKind,
} from "./helpers/slow_clients.ts";

/** Short bounds, so the test sees them expire. */
const BOUNDS = {
  PROXY_HANDSHAKE_TIMEOUT: "3s",
  PROXY_HEADER_TIMEOUT: "2s",
  PROXY_IDLE_TIMEOUT: "2s",
  PROXY_MAX_CONN_PER_ADDRESS: "10",
  PROXY_MAX_CONN: "500",
};
/** How long each kind of slow connection may stay open, by the bounds above, in ms. */
const EXPECTED_MS: Record<SlowKind, number> = {
  silent: 3000,
  hello_trickle: 3000,
  tls_silent: 2000,
  header_trickle: 2000,
  body_trickle: 2000,
  idle: 2000,
};
/** Room for a loaded machine: a connection must be closed within its bound plus this. */
const SLACK_MS = 5000;

async function behindProxy(
  server: TestServer,
  env: Record<string, string> = BOUNDS,
): Promise<RunningProxy> {
  return await startProxyFor(server, env);
}

/** The account a new client logs in as through the proxy, while the slow ones hold theirs. */
const USERS = { user1: "password1" };

/** Logs in as user1 through the proxy and calls /hello with the token. */
async function loginAndHello(proxy: RunningProxy, client: Deno.HttpClient): Promise<void> {
  const endpoint = { url: proxy.url, client };
  const { res, body } = await hello(endpoint, `Bearer ${await loginToken(endpoint)}`);
  assert.equal(res.status, 200);
  assert.deepEqual(body, { message: "Hello, user1! You're authenticated." });
}

async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; !done() && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function lifetime(connection: SlowConnection): number {
  return connection.closedAt! - connection.connectedAt;
}

testNeeding([HAPROXY], {
  name:
    "behind the HAProxy configuration src/deploy/haproxy.cfg, connections that never finish the TLS handshake, the request head or the body, and idle ones, are closed within their bounds while a new client logs in",
  async fn() {
    await using server = await startTestServer({ users: USERS });
    await using proxy = await behindProxy(server);
    const { certPem } = await testCertificate();
    const target = { port: proxy.port, caPem: certPem, serverName: "localhost" };
    await using slow = await openSlowClients(target, {
      kinds: SLOW_KINDS,
      count: 8,
      perAddress: 10,
    });
    const { connections } = slow;
    assert.equal(connections.length, 8 * SLOW_KINDS.length);
    for (const connection of connections) {
      assert.ok(connection.connected, `${connection.kind} did not connect`);
      const needsTls = !["silent", "hello_trickle"].includes(connection.kind);
      assert.equal(connection.handshook, needsTls, connection.kind);
    }

    // While they are open, a new client logs in and calls /hello through the proxy.
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    await loginAndHello(proxy, client);
    assert.ok(slow.closedCount() < connections.length, "the slow connections were open meanwhile");

    await waitUntil(() => slow.closedCount() === connections.length, 3000 + SLACK_MS);
    for (const connection of connections) {
      const { kind } = connection;
      assert.ok(connection.closedAt !== undefined, `${kind} from ${connection.localAddress} open`);
      const ms = lifetime(connection);
      assert.ok(ms >= EXPECTED_MS[kind] - 300, `${kind} closed after ${ms} ms, before its bound`);
      assert.ok(ms <= EXPECTED_MS[kind] + SLACK_MS, `${kind} closed after ${ms} ms`);
    }
    // The ones that got as far as a request head or body are told why (RFC 9110 408).
    for (const connection of connections.filter((c) => c.kind.endsWith("_trickle"))) {
      if (connection.kind === "hello_trickle") continue;
      assert.match(connection.answer, /^HTTP\/1\.1 408 /, connection.kind);
    }
    const idle = connections.filter((c) => c.kind === "idle");
    for (const connection of idle) assert.match(connection.answer, /^HTTP\/1\.1 401 /);

    // None of them reached the service; the new client's requests did.
    const requests = server.logs.filter((line) => line.msg === "request");
    assert.deepEqual(
      requests.map((line) => `${line.method} ${line.path} ${line.status}`).toSorted(),
      ["GET /hello 200", ...idle.map(() => "GET /hello 401"), "POST /login 200"].toSorted(),
    );
  },
});

testNeeding([HAPROXY], {
  name:
    "behind the HAProxy configuration src/deploy/haproxy.cfg, one client address gets PROXY_MAX_CONN_PER_ADDRESS connections; the next is closed at once, other addresses still get in",
  async fn() {
    await using server = await startTestServer({ users: USERS });
    await using proxy = await behindProxy(server, { ...BOUNDS, PROXY_MAX_CONN_PER_ADDRESS: "4" });
    const { certPem } = await testCertificate();
    const target = { port: proxy.port, caPem: certPem, serverName: "localhost" };
    const held: SlowConnection[] = [];
    /** Opens a handshaken connection from `address`, retrying while the proxy still counts closed ones. */
    const admitted = async (address: string) => {
      for (const deadline = Date.now() + 5000;;) {
        const connection = await openSlowConnection("tls_silent", address, target);
        if (connection.handshook || Date.now() > deadline) return connection;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 4; i++) {
          const connection = await admitted("127.0.1.1");
          assert.ok(connection.handshook, `connection ${i + 1} of 4 was refused`);
          held.push(connection);
        }
        const over = await openSlowConnection("tls_silent", "127.0.1.1", target);
        await waitUntil(() => over.closedAt !== undefined, 2000);
        assert.equal(over.handshook, false, "the connection over the cap never gets a handshake");
        assert.ok(over.closedAt !== undefined && lifetime(over) < 1500);
        // Parallel attempts from the capped address all fail the same way.
        const racing = await Promise.all(
          Array.from({ length: 10 }, () => openSlowConnection("tls_silent", "127.0.1.1", target)),
        );
        assert.ok(racing.every((c) => !c.handshook));
        const other = await openSlowConnection("tls_silent", "127.0.1.2", target);
        assert.equal(other.handshook, true, "another address still connects");
        other.close();
        // Once the held connections close, the address may connect again (next round).
        for (const connection of held.splice(0)) connection.close();
      }
      using client = Deno.createHttpClient({ caCerts: [certPem] });
      await loginAndHello(proxy, client);
    } finally {
      for (const connection of held) connection.close();
    }
  },
});

testNeeding([HAPROXY], {
  name:
    "behind the HAProxy configuration src/deploy/haproxy.cfg, the service sees the client address the proxy saw, never one the client claims",
  async fn() {
    const { certPem } = await testCertificate();
    const seen: Record<string, string | null>[] = [];
    await using echo = await serveTls((req) => {
      // The proxy's own health checks carry no client address.
      if (new URL(req.url).pathname === "/health/ready") return new Response("{}");
      seen.push({
        xff: req.headers.get("x-forwarded-for"),
        forwarded: req.headers.get("forwarded"),
      });
      return new Response("{}", { headers: { "content-type": "application/json" } });
    });
    await using proxy = await startProxyFor(echo.addr.port, BOUNDS);
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    const lies: Record<string, string>[] = [
      {},
      { "x-forwarded-for": "203.0.113.9" },
      { "x-forwarded-for": "203.0.113.9, 198.51.100.1" },
      { forwarded: "for=198.51.100.4" },
      { forwarded: "for=198.51.100.4", "x-forwarded-for": "203.0.113.9" },
    ];
    for (const headers of lies) {
      const res = await fetch(`${proxy.url}/hello`, { client, headers });
      await res.body?.cancel();
      assert.equal(res.status, 200);
    }
    assert.deepEqual(seen, lies.map(() => ({ xff: "127.0.0.1", forwarded: null })));
  },
});

Deno.test("src/deploy/README.md documents every setting of the HAProxy configuration with its default", async () => {
  const config = await haproxyConfig();
  const readme = await Deno.readTextFile(new URL("../src/deploy/README.md", import.meta.url));
  const settings = [...config.matchAll(/^\s*presetenv\s+(PROXY_\w+)\s+(\S+)\s*$/gm)];
  assert.ok(settings.length >= 10, "presetenv lines found");
  for (const [, name, value] of settings) {
    assert.match(
      readme,
      new RegExp(`\\| \`${name}\` +\\| \`${value.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\` +\\|`),
      name,
    );
  }
  const used = new Set([...config.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]));
  assert.deepEqual([...used].toSorted(), settings.map(([, name]) => name).toSorted());
});
