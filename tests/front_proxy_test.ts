/**
 * @module
 * How `src/deploy/haproxy.cfg` treats an instance over its lifecycle: readiness checks that take
 * a draining instance out, and certificates it pins across a renewal.
 */
import assert from "node:assert/strict";
import { generateCertificate } from "../src/certs/generate.ts";
import { HAPROXY, type RunningProxy, startProxy } from "./helpers/haproxy.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

/** Checks often, so that the tests see an instance go out within a second. */
const FAST_CHECKS = { PROXY_CHECK_INTERVAL: "300ms" };

async function proxyFor(server: TestServer, backendCaPem: string): Promise<RunningProxy> {
  const { certPem, keyPem } = await testCertificate();
  return await startProxy({
    backendPort: Number(new URL(server.url).port),
    backendCaPem,
    backendName: "localhost",
    certPem,
    keyPem,
    env: FAST_CHECKS,
  });
}

/** The status and body of `GET /hello` without a token, through `origin`. */
async function hello(origin: string, client: Deno.HttpClient) {
  const res = await fetch(`${origin}/hello`, { client });
  return { status: res.status, text: await res.text() };
}

testNeeding([HAPROXY], {
  name: "behind the HAProxy configuration, a draining instance is taken out while it still serves",
  async fn() {
    await using server = await startTestServer({ config: { drainDelayMs: 4000 } });
    await using proxy = await proxyFor(server, server.certPem);
    using client = Deno.createHttpClient({ caCerts: [server.certPem] });
    assert.equal((await hello(proxy.url, client)).status, 401, "the instance answers");

    const draining = server.running.drain();
    const started = performance.now();
    const out = await waitFor("the proxy to take the instance out", async () => {
      const answer = await hello(proxy.url, client);
      return answer.status === 503 ? answer : undefined;
    }, { timeoutMs: 3000, intervalMs: 50 });
    const tookMs = performance.now() - started;
    assert.doesNotMatch(out.text, /"msg"/, "the proxy's own answer, not the instance's");
    assert.ok(proxy.logs.some((line) => /auth_api\/api is DOWN/.test(line)), proxy.logs.join("\n"));
    // Still within DRAIN_DELAY: the instance itself still serves.
    assert.ok(tookMs < 3000);
    assert.equal((await hello(server.url, client)).status, 401);
    await draining;
  },
});

testNeeding([HAPROXY], {
  name:
    "a renewed self-signed certificate keeps serving behind a proxy that holds it next to the old one, and takes the instance out behind one that holds only the old",
  async fn() {
    await using server = await startTestServer();
    const old = await testCertificate();
    const next = await generateCertificate({ keyType: "ecdsa" });
    // Step 1 of the renewal: the proxy's CA file holds both certificates.
    await using prepared = await proxyFor(server, `${old.certPem}\n${next.certPem}`);
    await using unprepared = await proxyFor(server, old.certPem);
    using client = Deno.createHttpClient({ caCerts: [old.certPem] });
    for (const proxy of [prepared, unprepared]) {
      assert.equal((await hello(proxy.url, client)).status, 401);
    }

    // Step 2: the instance takes the new pair.
    await writeTlsFiles(server.dir, next);
    assert.equal(await server.running.reloadCertificate("renewal"), true);

    await waitFor("the unprepared proxy to take the instance out", async () => {
      return (await hello(unprepared.url, client)).status === 503;
    }, { timeoutMs: 5000, intervalMs: 100 });
    // Meanwhile, and for several checks more, the prepared proxy serves on new connections.
    for (const deadline = performance.now() + 1500; performance.now() < deadline;) {
      const answer = await hello(prepared.url, client);
      assert.equal(answer.status, 401, answer.text);
      await sleep(100);
    }
    assert.ok(!prepared.logs.some((line) => / is DOWN/.test(line)), prepared.logs.join("\n"));
  },
});
