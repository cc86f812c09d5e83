import assert from "node:assert/strict";
import { program, testNeeding } from "./helpers/prerequisites.ts";
import { runProgram, ServerProcess } from "./helpers/process.ts";
import { hello, login, startTestServer, type TestServer } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { waitFor } from "./helpers/wait.ts";

const PROMTOOL = program("promtool", "prometheus");

async function scrape(server: TestServer): Promise<string> {
  const url = server.running.metricsUrl;
  assert.ok(url, "metrics are on");
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return await res.text();
}

/** The value of one sample, e.g. `http_requests_total{route="/hello",method="GET",status="401"}`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([key, value]) =>
      line.includes(`${key}="${value}"`)
    );
    if (matches) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

Deno.test("metrics are off unless METRICS_PORT is set", async () => {
  await using server = await startTestServer();
  assert.equal(server.running.metricsUrl, undefined);
});

Deno.test("GET /metrics on its own loopback listener counts and times requests by route", async () => {
  await using server = await startTestServer({ env: { METRICS_PORT: "0" } });
  assert.match(server.running.metricsUrl!, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  for (let i = 0; i < 3; i++) {
    await (await fetch(`${server.url}/hello`, { client: server.client })).body?.cancel();
  }
  await (await fetch(`${server.url}/nowhere/${crypto.randomUUID()}`, { client: server.client }))
    .body?.cancel();
  const text = await scrape(server);
  assert.equal(sample(text, "http_requests_total", { route: "/hello", status: "401" }), 3);
  assert.equal(sample(text, "http_requests_total", { route: "unmatched", status: "404" }), 1);
  assert.equal(sample(text, "http_request_duration_seconds_count", { route: "/hello" }), 3);
  assert.ok(!text.includes("nowhere"), "unmatched paths never become label values");
  assert.ok(sample(text, "process_resident_memory_bytes") > 0);
  // The event-loop probe reports every half second.
  await waitFor(
    "an event-loop lag sample",
    async () => /^eventloop_lag_seconds_count /m.test(await scrape(server)),
  );
  assert.ok(
    sample(text, "store_operation_duration_seconds_count", { operation: "listRevocations" }) >= 1,
  );
  const other = await fetch(server.running.metricsUrl!.replace("/metrics", "/hello"));
  assert.equal(other.status, 404);
  await other.body?.cancel();
  const https = await fetch(`${server.url}/metrics`, { client: server.client });
  assert.equal(https.status, 404, "metrics never share the public port");
  await https.body?.cancel();
});

testNeeding([PROMTOOL], "GET /metrics passes promtool check metrics", async () => {
  await using server = await startTestServer({ env: { METRICS_PORT: "0" } });
  await (await fetch(`${server.url}/hello`, { client: server.client })).body?.cancel();
  const text = await scrape(server);
  const check = await runProgram("promtool", ["check", "metrics"], { stdin: text });
  assert.equal(check.code, 0, check.stdout + check.stderr);
});

Deno.test("the serve task's scoped permissions are enough for the metrics listener", async () => {
  await withTempDir(async (dir) => {
    const { certPem } = await testCertificate();
    await writeTlsFiles(dir);
    await using server = new ServerProcess(["serve", "--port", "0"], {
      cwd: dir,
      env: { METRICS_PORT: "0" },
    });
    const url = await server.listening();
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    await (await fetch(`${url}/hello`, { client })).body?.cancel();
    const metricsUrl = server.logs.find((line) => line.msg === "Listening")?.metrics_url;
    assert.match(String(metricsUrl), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(String(metricsUrl));
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(sample(text, "http_requests_total", { route: "/hello", status: "401" }), 1);
    assert.ok(sample(text, "process_resident_memory_bytes") > 0);
    assert.deepEqual(server.logs.filter((line) => line.level === "error"), []);
  });
});

Deno.test("GET /metrics counts token verifications by outcome and the cache hits", async () => {
  await using server = await startTestServer({
    users: { alice: "alice-password-1" },
    env: { METRICS_PORT: "0" },
  });
  const { body } = await login(server, "alice", "alice-password-1");
  const token = body.access_token as string;
  for (let i = 0; i < 3; i++) {
    assert.equal((await hello(server, `Bearer ${token}`)).res.status, 200);
  }
  const [head, payload, signature] = token.split(".");
  const flipped = signature[0] === "A" ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
  const forged = `${head}.${payload}.${flipped}`;
  assert.equal((await hello(server, `Bearer ${forged}`)).res.status, 401);
  assert.equal((await hello(server, "Bearer a.b.c")).res.status, 401);
  const text = await scrape(server);
  // Issued tokens are cached when signed, so every check of the valid one is a cache hit.
  assert.equal(sample(text, "auth_token_verifications_total", { outcome: "valid" }), 3);
  assert.equal(sample(text, "auth_token_cache_hits_total"), 3);
  assert.equal(sample(text, "auth_token_verifications_total", { outcome: "bad_signature" }), 1);
  assert.equal(sample(text, "auth_token_verifications_total", { outcome: "malformed" }), 1);
});
