/**
 * The shipped HAProxy configuration (`src/deploy/haproxy.cfg`) under faults, end to end: two
 * instances on one SQLite file behind it, a steady load of parallel `GET /hello`s and chains of
 * refreshes through it, while a certificate renewal reloads both instances' listeners (the file
 * watcher, and SIGHUP to one as a deploy hook sends it) and then one instance is killed with
 * SIGKILL: no GET fails, and HAProxy never sends a refresh to the service twice (a refresh token
 * sent twice would be taken for a stolen one and end its session). Against a backend that closes
 * every connection without an answer, HAProxy sends a GET three times and the single-use requests
 * once, answering 502. Refreshes go on new HTTP/1.1 connections: on a kept-alive or HTTP/2 one,
 * HAProxy answers a request left unanswered by closing the connection or refusing the stream,
 * which invites the client itself to send it again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { generateCertificate } from "../src/certs/generate.ts";
import { type Cluster, plantSession, startCluster } from "./helpers/cluster.ts";
import { HAPROXY, type RunningProxy, startProxy } from "./helpers/haproxy.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import type { ServerProcess } from "./helpers/process.ts";
import { sha256Hex } from "./helpers/refresh_tokens.ts";
import { type PemPair, testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { waitFor } from "./helpers/wait.ts";

/** Checks often, so that a killed instance is out within about a second. */
const FAST_CHECKS = { PROXY_CHECK_INTERVAL: "300ms" };
/** Parallel GET loops, and refresh chains, through the proxy. */
const GET_WORKERS = 8;
const REFRESH_CHAINS = 3;
/** Answers each instance must give after a fault before the next step. */
const ANSWERS_AFTER_FAULT = 30;
/** How long each step may take on a loaded machine. */
const STEP_TIMEOUT_MS = 10_000;

/** How many `GET /hello`s `server` has answered so far, by its access log. */
function helloCount(server: ServerProcess): number {
  return server.logs.filter((line) => line.msg === "request" && line.path === "/hello").length;
}

/** Waits until `server` has answered `count` more `GET /hello`s than `from`. */
async function answersMore(server: ServerProcess, from: number, count: number): Promise<void> {
  await waitFor(
    `${server.name} to answer ${count} more GETs`,
    () => helloCount(server) >= from + count,
    { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 50 },
  );
}

/** A steady load through the proxy until `stop`: parallel GETs and chains of refreshes. */
function load(
  proxy: RunningProxy,
  { client, caPem }: { client: Deno.HttpClient; caPem: string },
  sessions: { access: string; refresh: string }[],
) {
  let running = true;
  const gets = { answered: 0, failed: [] as string[] };
  const getLoop = async () => {
    while (running) {
      try {
        const res = await fetch(`${proxy.url}/hello`, {
          client,
          headers: { authorization: `Bearer ${sessions[0].access}` },
        });
        const text = await res.text();
        if (res.status === 200) gets.answered++;
        else gets.failed.push(`${res.status} ${text.slice(0, 100)}`);
      } catch (error) {
        gets.failed.push(`no answer: ${error}`);
      }
    }
  };
  /** Refreshes until stopped or refused; the token it holds last, and how it ended. */
  const refreshChain = async (session: { refresh: string }) => {
    let current = session.refresh;
    let rotations = 0;
    while (running) {
      try {
        // Each refresh on a new HTTP/1.1 connection, so that only HAProxy could send it twice:
        // on a kept-alive or HTTP/2 connection HAProxy invites the client to resend a request
        // that got no answer, and some clients do (see src/deploy/README.md).
        using fresh = Deno.createHttpClient({ caCerts: [caPem], http2: false });
        const res = await fetch(`${proxy.url}/refresh`, {
          method: "POST",
          client: fresh,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: current }),
        });
        const body = await res.json().catch(() => ({}));
        if (res.status !== 200) return { current, rotations, ended: `${res.status}` };
        current = body.refresh_token;
        rotations++;
      } catch (error) {
        return { current, rotations, ended: `no answer: ${error}` };
      }
    }
    return { current, rotations, ended: "stopped" };
  };
  const getting = Promise.all(Array.from({ length: GET_WORKERS }, getLoop));
  const chains = Promise.all(sessions.slice(1).map(refreshChain));
  return {
    gets,
    async stop() {
      running = false;
      await getting;
      return await chains;
    },
  };
}

async function proxyInFront(cluster: Cluster, backendCaPem: string): Promise<RunningProxy> {
  const { certPem, keyPem } = await testCertificate();
  return await startProxy({
    backendPort: Number(new URL(cluster.a.url).port),
    moreBackendPorts: [Number(new URL(cluster.b.url).port)],
    backendCaPem,
    backendName: "localhost",
    certPem,
    keyPem,
    env: FAST_CHECKS,
  });
}

testNeeding([HAPROXY], {
  name:
    "behind the HAProxy configuration, two instances under load: a certificate renewal and a SIGKILL of one fail no GET, and no refresh reaches the service twice",
  async fn() {
    await using cluster = await startCluster("sqlite", { alice: "alice-password-1" });
    const { a, b } = cluster;
    const old = await testCertificate();
    const renewed = await generateCertificate({ keyType: "ecdsa" });
    // The proxy holds both certificates, as the renewal steps ask (src/deploy/README.md).
    await using proxy = await proxyInFront(cluster, `${old.certPem}\n${renewed.certPem}`);
    const sessions = await Promise.all(
      Array.from(
        { length: 1 + REFRESH_CHAINS },
        (_, i) => plantSession(cluster, i % 2 === 0 ? a : b, "alice"),
      ),
    );
    const running = load(proxy, { client: cluster.client, caPem: old.certPem }, sessions);
    let chains: Awaited<ReturnType<typeof running.stop>> = [];
    try {
      await Promise.all([
        answersMore(a, 0, ANSWERS_AFTER_FAULT),
        answersMore(b, 0, ANSWERS_AFTER_FAULT),
      ]);

      // A renewal: new files (each instance's watcher sees them) and the hook's SIGHUP to A.
      const beforeRenewal = [helloCount(a), helloCount(b)];
      await writeTlsFiles(cluster.dir, renewed);
      a.signal("SIGHUP");
      await Promise.all([a, b].map((server) => server.waitForLog("Certificate reloaded")));
      await Promise.all([
        answersMore(a, beforeRenewal[0], ANSWERS_AFTER_FAULT),
        answersMore(b, beforeRenewal[1], ANSWERS_AFTER_FAULT),
      ]);

      // A crash: A is killed with requests in flight, and taken out by the checks.
      a.signal("SIGKILL");
      await a.exitedWithin(STEP_TIMEOUT_MS);
      await waitFor("the proxy to take A out", () => {
        return proxy.logs.some((line) => /auth_api\/api1 is DOWN/.test(line));
      }, { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 50 });
      await answersMore(b, helloCount(b), ANSWERS_AFTER_FAULT);
    } finally {
      chains = await running.stop();
    }

    assert.deepEqual(running.gets.failed, [], `${running.gets.answered} GETs answered`);
    assert.ok(running.gets.answered >= 4 * ANSWERS_AFTER_FAULT, `${running.gets.answered}`);
    // A refresh sent twice would find its token used and revoke the session.
    for (const server of [a, b]) {
      const reuses = server.logs.filter((line) => line.event === "refresh_reuse_detected");
      assert.deepEqual(reuses, [], `${server.name} saw no refresh token twice`);
    }
    for (const [i, chain] of chains.entries()) {
      assert.ok(chain.rotations > 0, `chain ${i} refreshed: ${JSON.stringify(chain)}`);
      // Only the refresh in flight on A as it died may go unanswered; the chain then stops.
      assert.match(chain.ended, /^(stopped|502|503|no answer.*)$/, `chain ${i}`);
      const state = await cluster.store.getRefreshToken(await sha256Hex(chain.current));
      assert.equal(state?.family.revokedAt, null, `chain ${i}'s session is alive`);
    }
  },
});

/** A TLS backend that answers its readiness check and closes every other request unanswered. */
function closingBackend(pair: PemPair) {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pair.certPem,
    key: pair.keyPem,
  });
  const hits = new Map<string, number>();
  const handle = async (conn: Deno.TlsConn) => {
    try {
      const head = await requestHead(conn);
      const [method, path] = head.split(" ", 2);
      if (path === "/health/ready") {
        await conn.write(
          new TextEncoder().encode(
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
          ),
        );
      } else {
        hits.set(`${method} ${path}`, (hits.get(`${method} ${path}`) ?? 0) + 1);
      }
    } catch {
      // A connection that broke off is no request.
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) handle(conn);
  })().catch(() => {});
  return {
    port: listener.addr.port,
    hits,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
    },
  };
}

/**
 * Reads a whole request, head and body (HAProxy sends bodies with `Content-Length`, since it
 * buffers them); returns its first line. A request read whole is one the service could have
 * carried out.
 */
async function requestHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
    if (end >= 0 && text.length >= end + 4 + length) break;
    const read = await conn.read(buffer);
    if (read === null) throw new Error("Closed before the end of the request");
    text += new TextDecoder().decode(buffer.subarray(0, read));
  }
  return text.slice(0, text.indexOf("\r\n"));
}

testNeeding([HAPROXY], {
  name:
    "behind the HAProxy configuration, a request closed without an answer is sent again only when that is safe: a GET three times, a refresh or a code exchange once",
  async fn() {
    const pair = await testCertificate();
    await using backend = closingBackend(pair);
    await using proxy = await startProxy({
      backendPort: backend.port,
      backendCaPem: pair.certPem,
      backendName: "localhost",
      certPem: pair.certPem,
      keyPem: pair.keyPem,
      env: FAST_CHECKS,
    });
    const requests: [string, RequestInit][] = [
      ["/hello", {}],
      ["/refresh", { method: "POST", body: JSON.stringify({ refresh_token: "x" }) }],
      ["/oauth/token", { method: "POST", body: new URLSearchParams({ grant_type: "x" }) }],
    ];
    const statuses: number[] = [];
    for (const [path, init] of requests) {
      // Each on a new HTTP/1.1 connection: on a kept-alive or HTTP/2 one, HAProxy answers a
      // request that got no answer by closing the connection or refusing the stream instead,
      // which invites the client to send it again (see src/deploy/README.md).
      using client = Deno.createHttpClient({ caCerts: [pair.certPem], http2: false });
      const res = await fetch(`${proxy.url}${path}`, { ...init, client });
      await res.body?.cancel();
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [502, 502, 502], "the client learns it got no answer");
    assert.deepEqual(Object.fromEntries(backend.hits), {
      "GET /hello": 3,
      "POST /refresh": 1,
      "POST /oauth/token": 1,
    });
  },
});
