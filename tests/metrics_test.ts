/**
 * @module
 * The Prometheus metrics over real HTTPS: off unless METRICS_PORT is set, served on a loopback
 * listener of their own within the serve task's permissions, passing `promtool check metrics`,
 * counting requests, token verifications and cache hits, every security counter at 0 from the
 * start, the documented reuse alert firing, and auth_build_info.
 */
import assert from "node:assert/strict";
import { program, testNeeding } from "./helpers/prerequisites.ts";
import { runProgram, ServerProcess } from "./helpers/process.ts";
import { hello, login, refresh, startTestServer, type TestServer } from "./helpers/server.ts";
import { tempDir, withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { waitFor } from "./helpers/wait.ts";

const PROMTOOL = program("promtool", "prometheus");
/** Where the metrics, their table and the example queries are described. */
const OPERATIONS_README = new URL("../src/deploy/README.md", import.meta.url);

/** Lines of the exposition that are samples of `name` (its buckets, sum and count included). */
function samplesOf(text: string, name: string): string[] {
  return text.split("\n").filter((line) =>
    line.startsWith(`${name}{`) || line.startsWith(`${name} `)
  );
}

/** A method no standard names, as a client may invent: `length` random capital letters. */
function madeUpMethod(length: number): string {
  const letters = crypto.getRandomValues(new Uint8Array(length));
  return String.fromCharCode(...letters.map((byte) => 65 + (byte % 26)));
}

async function scrape(server: TestServer): Promise<string> {
  const url = server.running.metricsUrl;
  assert.ok(url, "metrics are on");
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return await res.text();
}

/**
 * The value of one sample, e.g. `auth_http_requests_total{route="/hello",method="GET",status="401"}`,
 * or undefined when the exposition has no such series.
 */
function series(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([key, value]) =>
      line.includes(`${key}="${value}"`)
    );
    if (matches) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** The value of one sample, 0 when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  return series(text, name, labels) ?? 0;
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
  assert.equal(
    sample(text, "auth_http_requests_total", { route: "/hello", method: "GET", status: "401" }),
    3,
  );
  assert.equal(
    sample(text, "auth_http_requests_total", { route: "unmatched", status: "404" }),
    1,
  );
  assert.equal(sample(text, "auth_http_request_duration_seconds_count", { route: "/hello" }), 3);
  assert.ok(!text.includes("nowhere"), "unmatched paths never become label values");
  assert.ok(sample(text, "process_resident_memory_bytes") > 0);
  // The event-loop probe reports every half second.
  await waitFor(
    "an event-loop lag sample",
    async () => /^deno_eventloop_lag_seconds_count /m.test(await scrape(server)),
  );
  assert.ok(
    sample(text, "auth_store_operation_duration_seconds_count", { operation: "listRevocations" }) >=
      1,
  );
  const other = await fetch(server.running.metricsUrl!.replace("/metrics", "/hello"));
  assert.equal(other.status, 404);
  await other.body?.cancel();
  const https = await fetch(`${server.url}/metrics`, { client: server.client });
  assert.equal(https.status, 404, "metrics never share the public port");
  await https.body?.cancel();
});

testNeeding([PROMTOOL], "GET /metrics passes promtool check metrics", async () => {
  await using server = await startTestServer({
    users: { alice: "alice-password-1" },
    env: { METRICS_PORT: "0" },
  });
  await (await fetch(`${server.url}/hello`, { client: server.client })).body?.cancel();
  const { body } = await login(server, "alice", "alice-password-1");
  assert.equal((await refresh(server, body.refresh_token as string)).res.status, 200);
  await (await fetch(`${server.url}/hello`, { client: server.client, method: "BREW" })).body
    ?.cancel();
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
    assert.equal(sample(text, "auth_http_requests_total", { route: "/hello", status: "401" }), 1);
    assert.ok(sample(text, "process_resident_memory_bytes") > 0);
    assert.ok(sample(text, "process_cpu_seconds_total") > 0, "CPU time without --allow-sys");
    assert.equal(sample(text, "auth_build_info", { signing_alg: "ES256" }), 1);
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

Deno.test('made-up request methods are counted as one method="other" series, so the scrape stays small', async () => {
  await using server = await startTestServer({ env: { METRICS_PORT: "0" } });
  const methods = Array.from({ length: 300 }, (_, i) => madeUpMethod(1 + (i * 97) % 8192));
  methods.push("patch", "PROPFIND", "GETS", "BREW");
  for (let start = 0; start < methods.length; start += 16) {
    await Promise.all(
      methods.slice(start, start + 16).map(async (method, i) => {
        const path = i % 2 === 0 ? "/hello" : `/nowhere/${i}`;
        const res = await fetch(`${server.url}${path}`, { client: server.client, method });
        await res.body?.cancel();
        assert.ok(res.status === 405 || res.status === 404, `${res.status} for ${method.length}`);
      }),
    );
  }
  await (await fetch(`${server.url}/hello`, { client: server.client })).body?.cancel();
  const text = await scrape(server);
  const requests = samplesOf(text, "auth_http_requests_total");
  const odd = requests.filter((line) => line.includes('method="other"'));
  assert.equal(odd.length, 2, odd.join("\n"));
  assert.equal(
    sample(text, "auth_http_requests_total", { route: "/hello", method: "other", status: "405" }) +
      sample(text, "auth_http_requests_total", { route: "unmatched", method: "other" }),
    methods.length,
  );
  assert.equal(
    sample(text, "auth_http_requests_total", { route: "/hello", method: "GET", status: "401" }),
    1,
  );
  assert.equal(requests.length, 3, requests.join("\n"));
  assert.ok(text.split("\n").every((line) => line.length < 300), "no long label value");
  assert.ok(text.length < 32 * 1024, `the scrape is ${text.length} bytes`);
});

Deno.test("every known outcome of the security counters and every store operation's error count is at 0 from the start", async () => {
  await using server = await startTestServer({ env: { METRICS_PORT: "0" } });
  const text = await scrape(server);
  const expected: [string, string, string[]][] = [
    ["auth_logins_total", "outcome", ["success", "invalid", "throttled"]],
    ["auth_throttle_entries_total", "reason", ["account", "address", "device"]],
    [
      "auth_account_changes_total",
      "change",
      ["password_changed", "app_signed_out", "signed_out_everywhere"],
    ],
    [
      "auth_second_factor_events_total",
      "event",
      ["enrolled", "succeeded", "failed", "recovery_code_used", "recovery_codes_generated"],
    ],
    [
      "auth_refreshes_total",
      "outcome",
      ["rotated", "reuse_detected", "revoked", "client_mismatch"],
    ],
    [
      "auth_token_verifications_total",
      "outcome",
      ["valid", "expired", "bad_signature", "malformed", "revoked", "unknown_key", "throttled"],
    ],
    ["auth_store_errors_total", "operation", ["getUser", "rotateRefreshToken", "ping"]],
    ["auth_pushed_requests_total", "outcome", ["issued", "refused", "used", "expired"]],
  ];
  for (const [name, label, values] of expected) {
    for (const value of values) {
      assert.equal(series(text, name, { [label]: value }), 0, `${name}{${label}="${value}"}`);
    }
  }
  assert.equal(series(text, "auth_token_cache_hits_total"), 0);
});

/** The alert on refresh-token reuse, as src/deploy/README.md writes it in its example queries. */
async function readmeReuseAlert(): Promise<string> {
  const line = (await Deno.readTextFile(OPERATIONS_README)).split("\n").find((candidate) =>
    candidate.startsWith('increase(auth_refreshes_total{outcome="reuse_detected"}')
  );
  assert.ok(line, "src/deploy/README.md has the reuse alert");
  return line.replace(/\s+#.*$/, "");
}

/**
 * Runs `promtool test rules` with the alert `expr` over one series sampled every minute as
 * `values` (`_` for a scrape without it), evaluated at the last sample; whether it fires.
 */
async function alertFires(expr: string, seriesName: string, values: string): Promise<boolean> {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    `${dir.path}/rules.yml`,
    JSON.stringify({ groups: [{ name: "auth", rules: [{ alert: "Alert", expr }] }] }),
  );
  const samples = values.split(" ").length;
  const test = (alerts: unknown[]) => ({
    rule_files: ["rules.yml"],
    evaluation_interval: "1m",
    tests: [{
      interval: "1m",
      input_series: [{ series: seriesName, values }],
      alert_rule_test: [{ eval_time: `${samples - 1}m`, alertname: "Alert", exp_alerts: alerts }],
    }],
  });
  const run = async (alerts: unknown[]) => {
    await Deno.writeTextFile(`${dir.path}/test.yml`, JSON.stringify(test(alerts)));
    return await runProgram("promtool", ["test", "rules", "test.yml"], { cwd: dir.path });
  };
  const firing = await run([{ exp_labels: { outcome: "reuse_detected" } }]);
  if (firing.code === 0) return true;
  const silent = await run([]);
  assert.equal(silent.code, 0, `promtool: ${firing.stdout}${firing.stderr}${silent.stdout}`);
  return false;
}

testNeeding(
  [PROMTOOL],
  "the documented reuse alert fires on an instance's first reused refresh token (scraped before and after)",
  async () => {
    await using server = await startTestServer({
      users: { alice: "alice-password-1" },
      env: { METRICS_PORT: "0" },
    });
    const name = "auth_refreshes_total";
    const labels = { outcome: "reuse_detected" };
    const before = series(await scrape(server), name, labels);
    assert.equal(before, 0, "the series exists before any reuse");
    const { body } = await login(server, "alice", "alice-password-1");
    assert.equal((await refresh(server, body.refresh_token as string)).res.status, 200);
    assert.equal((await refresh(server, body.refresh_token as string)).res.status, 400);
    const after = series(await scrape(server), name, labels);
    assert.equal(after, 1);

    const expr = await readmeReuseAlert();
    const seriesName = `${name}{outcome="reuse_detected"}`;
    assert.equal(await alertFires(expr, seriesName, `${before} ${before} ${after}`), true);
    // Why the zero matters: a series that first appears at 1 gives increase() nothing to compare.
    assert.equal(await alertFires(expr, seriesName, `_ _ ${after}`), false);
  },
);

Deno.test("auth_build_info names the version, the Deno version and the current signing algorithm", async () => {
  for (const alg of ["ES256", "EdDSA"]) {
    await using server = await startTestServer({ env: { METRICS_PORT: "0", JWT_ALG: alg } });
    const [line] = samplesOf(await scrape(server), "auth_build_info");
    assert.match(
      line ?? "",
      new RegExp(
        `^auth_build_info\\{version="\\d+\\.\\d+\\.\\d+",deno_version="${
          Deno.version.deno.replaceAll(".", "\\.")
        }",signing_alg="${alg}"\\} 1$`,
      ),
    );
  }
});

Deno.test("the Listening line gives the metrics address as bound: METRICS_HOST=0.0.0.0 is not called localhost", async () => {
  await using server = await startTestServer({
    env: { METRICS_PORT: "0", METRICS_HOST: "0.0.0.0" },
  });
  const listening = server.logs.find((line) => line.msg === "Listening");
  assert.match(String(listening?.metrics_url), /^http:\/\/0\.0\.0\.0:\d+\/metrics$/);
  assert.equal(server.running.metricsUrl, listening?.metrics_url);
  const port = new URL(String(listening?.metrics_url)).port;
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200, "bound to every address, loopback included");
  await res.body?.cancel();
});
