/**
 * @module
 * The files deployers copy, `src/deploy/auth-api.service` and `src/deploy/haproxy.cfg`: the
 * settings the service's lifecycle relies on, and the programs' own checks of them.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../src/config_load.ts";
import { checkProxyConfig, HAPROXY, haproxyConfig } from "./helpers/haproxy.ts";
import { program, testNeeding } from "./helpers/prerequisites.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { testCertificate } from "./helpers/tls.ts";

const UNIT = new URL("../src/deploy/auth-api.service", import.meta.url);
const SYSTEMD_ANALYZE = program("systemd-analyze", "systemd");

/** A unit file's settings: section, then setting, then the values it is given in order. */
type UnitSettings = Map<string, Map<string, string[]>>;

function parseUnit(text: string): UnitSettings {
  const sections: UnitSettings = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      sections.set(header[1], section);
      continue;
    }
    const equals = line.indexOf("=");
    assert.ok(section && equals > 0, `a setting inside a section: ${line}`);
    const name = line.slice(0, equals);
    section.set(name, [...section.get(name) ?? [], line.slice(equals + 1)]);
  }
  return sections;
}

async function serviceSettings(): Promise<(name: string) => string | undefined> {
  const service = parseUnit(await Deno.readTextFile(UNIT)).get("Service");
  assert.ok(service, "a [Service] section");
  return (name) => service.get(name)?.at(-1);
}

/** systemd's time span in seconds, for the forms a unit uses: `30`, `30s`, `1min 30s`. */
function seconds(span: string): number {
  let total = 0;
  for (const [, amount, unit] of span.matchAll(/(\d+)\s*(min|s)?/g)) {
    total += Number(amount) * (unit === "min" ? 60 : 1);
  }
  return total;
}

Deno.test("the systemd unit sends SIGTERM to the server alone, SIGHUP on reload, and waits longer than a drain and a shutdown take", async () => {
  const setting = await serviceSettings();
  assert.equal(setting("KillMode"), "mixed");
  assert.equal(setting("KillSignal") ?? "SIGTERM", "SIGTERM");
  assert.equal(setting("ExecReload"), "/bin/kill -HUP $MAINPID");
  assert.match(setting("ExecStart")!, /^\/\S+\/auth-api serve$/);
  const defaults = loadConfig([], {});
  const stopSeconds = seconds(setting("TimeoutStopSec")!);
  assert.ok(
    stopSeconds > (defaults.drainDelayMs + defaults.shutdownTimeoutMs) / 1000,
    `TimeoutStopSec ${stopSeconds} s is above DRAIN_DELAY + SHUTDOWN_TIMEOUT`,
  );
});

Deno.test("the systemd unit runs as a user of its own, from an environment file, with the hardening options", async () => {
  const setting = await serviceSettings();
  const user = setting("User");
  assert.ok(user && user !== "root" && user !== "0", `User=${user}`);
  assert.equal(setting("Group"), user);
  assert.match(setting("EnvironmentFile")!, /^\/etc\//);
  assert.equal(setting("WorkingDirectory"), `/var/lib/${setting("StateDirectory")}`);
  const hardening: Record<string, string> = {
    NoNewPrivileges: "yes",
    ProtectSystem: "strict",
    ProtectHome: "yes",
    PrivateTmp: "yes",
    PrivateDevices: "yes",
    CapabilityBoundingSet: "",
    RestrictSUIDSGID: "yes",
    UMask: "0077",
  };
  for (const [name, value] of Object.entries(hardening)) {
    assert.equal(setting(name), value, name);
  }
  // V8 writes the code it compiles: this option would stop the service at its first request.
  assert.equal(setting("MemoryDenyWriteExecute"), undefined);
});

testNeeding([SYSTEMD_ANALYZE], {
  name: "systemd-analyze verify finds nothing to say about the systemd unit",
  async fn() {
    await using dir = await tempDir("auth-api-unit-");
    // The unit as shipped, with a stand-in where the installed binary would be.
    const binary = `${dir.path}/auth-api`;
    await Deno.writeTextFile(binary, "#!/bin/sh\n", { mode: 0o755 });
    const unit = (await Deno.readTextFile(UNIT)).replaceAll("/usr/local/bin/auth-api", binary);
    await Deno.writeTextFile(`${dir.path}/auth-api.service`, unit);
    const { code, stdout, stderr } = await new Deno.Command(SYSTEMD_ANALYZE.path, {
      args: ["verify", "--man=no", `${dir.path}/auth-api.service`],
      stdin: "null",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assert.equal(code, 0, output);
    assert.equal(output.trim(), "");
  },
});

Deno.test("the HAProxy configuration checks readiness and retries only what is safe to send again", async () => {
  const config = await haproxyConfig();
  const backend = config.slice(config.indexOf("\nbackend "));
  const lines = backend.split("\n").map((line) => line.trim()).filter((line) =>
    line !== "" && !line.startsWith("#")
  );
  for (
    const expected of [
      "option httpchk",
      'http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host "${PROXY_BACKEND_NAME}"',
      "http-check expect status 200",
      'default-server check inter "${PROXY_CHECK_INTERVAL}" fall 2 rise 2',
      "retry-on conn-failure empty-response",
      "option redispatch",
      "http-request disable-l7-retry if single_use",
    ]
  ) {
    assert.ok(lines.includes(expected), `backend has: ${expected}`);
  }
  assert.ok(lines.some((line) => /^retries [1-9]$/.test(line)));
  const server = lines.find((line) => line.startsWith("server "))!;
  assert.match(server, /\bssl verify required\b/);
  assert.match(server, /\bcheck-sni\b/);
  // What a replay would spend twice: single-use tokens and codes, and forms that end in one.
  const singleUse = lines.find((line) => line.startsWith("acl single_use path "))!.split(/\s+/)
    .slice(3);
  assert.deepEqual(singleUse.toSorted(), [
    "/consent",
    "/logout",
    "/oauth/token",
    "/refresh",
    "/sign-in",
  ]);
  // DRAIN_DELAY outlasts the checks that take a draining instance out.
  const interval = /presetenv PROXY_CHECK_INTERVAL\s+(\d+)s/.exec(config);
  assert.ok(interval, "a PROXY_CHECK_INTERVAL in seconds");
  const defaults = loadConfig([], {});
  assert.ok(Number(interval[1]) * 2 < defaults.drainDelayMs / 1000);
});

testNeeding([HAPROXY], {
  name: "haproxy -c accepts the HAProxy configuration",
  async fn() {
    const { certPem, keyPem } = await testCertificate();
    const { code, output } = await checkProxyConfig({
      backendPort: 8443,
      backendCaPem: certPem,
      backendName: "localhost",
      certPem,
      keyPem,
    });
    assert.equal(code, 0, output);
    assert.doesNotMatch(output, /\[(WARNING|ALERT)\]/, output);
  },
});

Deno.test("README names the deployer files", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.match(readme, /`src\/deploy\/haproxy\.cfg`/);
  assert.match(readme, /`src\/deploy\/auth-api\.service`/);
  assert.doesNotMatch(readme, /^```haproxy$/m, "the configuration lives in its file only");
});
