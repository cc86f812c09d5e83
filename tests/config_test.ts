/**
 * @module
 * Configuration from flags and the environment (`loadConfig`): the documented defaults, each
 * setting's parsing and bounds with one-line errors naming the variable (never echoing a secret),
 * durations in seconds only, proxies and clients settings, `urlHost`, and that ENV_VARIABLES lists
 * exactly the variables config_load.ts reads.
 */
import assert from "node:assert/strict";
import { MIN_PBKDF2_ITERATIONS } from "../src/auth/accounts/passwords.ts";
import { publicIdentity, urlHost } from "../src/config.ts";
import { ENV_VARIABLES, readEnvironment } from "../src/config_environment.ts";
import { loadConfig } from "../src/config_load.ts";
import { ConfigError } from "../src/config_values.ts";
import { thrownBy } from "./helpers/errors.ts";

/** Asserts that `fn` throws a one-line ConfigError whose message matches `pattern`. */
function assertConfigError(fn: () => unknown, pattern: RegExp): ConfigError {
  const caught = thrownBy(fn, ConfigError);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes("\n"), `not one line: ${JSON.stringify(caught.message)}`);
  assert.match(caught.message, /^[A-Z-]/, "starts upper-case (or with a flag)");
  assert.ok(!caught.message.endsWith("."), "no trailing period");
  return caught;
}

Deno.test("loadConfig uses the documented defaults with no flags and no environment", () => {
  const config = loadConfig([], {});
  assert.equal(config.port, 8443);
  assert.equal(config.host, "localhost");
  assert.equal(config.databaseUrl, "sqlite:data/auth.db");
  assert.equal(config.tlsCert, "certs/cert.pem");
  assert.equal(config.tlsKey, "certs/key.pem");
  assert.equal(config.accessTokenTtlSeconds, 900);
  assert.equal(config.refreshTokenTtlSeconds, 30 * 86400);
  assert.equal(config.refreshTokenIdleTtlSeconds, 7 * 86400);
  assert.deepEqual(config.oauthClients, {});
  assert.deepEqual(config.oauthIntrospectors, []);
  assert.equal(config.clockLeewaySeconds, 30);
  assert.equal(config.passwordIterations, 600_000);
  assert.equal(config.passwordIterations, MIN_PBKDF2_ITERATIONS);
  assert.equal(config.publicUrl, undefined);
  assert.equal(config.issuer, undefined);
  assert.equal(config.audience, undefined);
  assert.deepEqual(publicIdentity(config, "https://localhost:8443"), {
    publicUrl: "https://localhost:8443",
    issuer: "https://localhost:8443",
    audience: "https://localhost:8443",
  });
  assert.equal(config.jwtSecret, undefined);
  assert.equal(config.httpPort, undefined);
  assert.equal(config.dev, false);
  assert.equal(config.logLevel, "info");
  assert.deepEqual(config.throttle, {
    freeFailures: 5,
    baseDelaySeconds: 1,
    maxDelaySeconds: 900,
    resetAfterSeconds: 3600,
    addressFailuresPerMinute: 30,
    deviceFailures: 5,
    inFlightWaitMs: 20_000,
  });
  assert.deepEqual(config.deviceTokens, { ttlSeconds: 30 * 86400 });
  assert.deepEqual(config.clientAddress, {
    trustedProxies: [],
    proxyHeader: "x-forwarded-for",
    ipv6PrefixLength: 64,
  });
  assert.equal(config.jwtAlg, "ES256");
  assert.deepEqual(config.invalidTokenBudget, { perMinute: 30, maxTrackedAddresses: 10_000 });
});

Deno.test("loadConfig reads JWT_ALG and INVALID_TOKEN_BUDGET_PER_MINUTE", () => {
  for (const alg of ["ES256", "EdDSA", "RS256"]) {
    assert.equal(loadConfig([], { JWT_ALG: alg }).jwtAlg, alg);
  }
  assert.equal(loadConfig([], { JWT_ALG: "" }).jwtAlg, "ES256");
  const config = loadConfig([], { INVALID_TOKEN_BUDGET_PER_MINUTE: "5" });
  assert.equal(config.invalidTokenBudget.perMinute, 5);
});

Deno.test("loadConfig rejects an unknown JWT_ALG, JWT_ALG with JWT_SECRET, and a budget below 1", () => {
  for (const alg of ["HS256", "none", "es256", "ES384", "Ed25519"]) {
    assertConfigError(
      () => loadConfig([], { JWT_ALG: alg }),
      /^JWT_ALG must be one of ES256, EdDSA, RS256/,
    );
  }
  const error = assertConfigError(
    () => loadConfig([], { JWT_ALG: "EdDSA", JWT_SECRET: "s".repeat(40) }),
    /JWT_ALG .* JWT_SECRET/,
  );
  assert.ok(!error.message.includes("s".repeat(40)));
  for (const value of ["0", "-1", "ten", "1.5"]) {
    assertConfigError(
      () => loadConfig([], { INVALID_TOKEN_BUDGET_PER_MINUTE: value }),
      /^INVALID_TOKEN_BUDGET_PER_MINUTE must be a whole number/,
    );
  }
});

Deno.test("loadConfig reads PORT and HOST from the environment", () => {
  const config = loadConfig([], { PORT: "9443", HOST: "0.0.0.0" });
  assert.equal(config.port, 9443);
  assert.equal(config.host, "0.0.0.0");
});

Deno.test("loadConfig reads --port and --host flags", () => {
  const config = loadConfig(["--port", "7443", "--host=127.0.0.1"], {});
  assert.equal(config.port, 7443);
  assert.equal(config.host, "127.0.0.1");
});

Deno.test("loadConfig lets --port and --host win over PORT and HOST", () => {
  const config = loadConfig(["--port", "7443", "--host", "::1"], { PORT: "9443", HOST: "0.0.0.0" });
  assert.equal(config.port, 7443);
  assert.equal(config.host, "::1");
});

Deno.test("loadConfig ignores HOSTNAME (set by shells and containers)", () => {
  const config = loadConfig([], { HOSTNAME: "build-box-7f3a" });
  assert.equal(config.host, "localhost");
});

Deno.test("loadConfig rejects an invalid PORT with a one-line error naming PORT", () => {
  for (const port of ["abc", "70000", "-1", "80.5", "0x50", " 80", "65536"]) {
    const error = assertConfigError(() => loadConfig([], { PORT: port }), /PORT/);
    assert.ok(error.message.includes(`"${port}"`), error.message);
  }
});

Deno.test("loadConfig rejects an invalid --port flag naming PORT", () => {
  assertConfigError(() => loadConfig(["--port", "abc"], {}), /PORT/);
  assertConfigError(() => loadConfig(["--port", "70000"], { PORT: "8443" }), /PORT/);
});

Deno.test("loadConfig accepts port 0 and 65535", () => {
  assert.equal(loadConfig([], { PORT: "0" }).port, 0);
  assert.equal(loadConfig([], { PORT: "65535" }).port, 65535);
});

Deno.test("loadConfig treats an empty PORT as unset", () => {
  assert.equal(loadConfig([], { PORT: "" }).port, 8443);
});

Deno.test("loadConfig treats an empty HOST as unset", () => {
  assert.equal(loadConfig([], { HOST: "" }).host, "localhost");
});

Deno.test("loadConfig rejects a HOST that looks like IPv4 but is not, naming HOST, and keeps real ones", () => {
  for (const host of ["999.1.1.1", "1.2.3", "256.0.0.1", "10.0.0.01", "1.2.3.4.5", "."]) {
    assertConfigError(() => loadConfig([], { HOST: host }), new RegExp(`^HOST "${host}"`));
    assertConfigError(() => loadConfig(["--host", host], {}), /^HOST .*--host/);
  }
  for (
    const host of ["127.0.0.1", "0.0.0.0", "255.255.255.255", "10.255.255.1", "::1", "api.test"]
  ) {
    assert.equal(loadConfig([], { HOST: host }).host, host);
  }
});

Deno.test("loadConfig rejects an HTTP_PORT equal to the HTTPS port, naming HTTP_PORT", () => {
  assertConfigError(() => loadConfig([], { PORT: "9443", HTTP_PORT: "9443" }), /^HTTP_PORT .*9443/);
  assertConfigError(() => loadConfig(["--port", "8080"], { HTTP_PORT: "8080" }), /^HTTP_PORT/);
  assertConfigError(() => loadConfig([], { HTTP_PORT: "8443" }), /^HTTP_PORT .*8443/);
  assert.equal(loadConfig([], { PORT: "0", HTTP_PORT: "0" }).httpPort, 0, "two free ports");
  assert.equal(loadConfig([], { PORT: "9443", HTTP_PORT: "8080" }).httpPort, 8080);
});

Deno.test("loadConfig rejects a JWT_SECRET shorter than 32 bytes", () => {
  assertConfigError(() => loadConfig([], { JWT_SECRET: "x".repeat(31) }), /JWT_SECRET.*32 bytes/);
  assertConfigError(() => loadConfig([], { JWT_SECRET: "short" }), /JWT_SECRET/);
});

Deno.test("loadConfig accepts a JWT_SECRET of 32 bytes or more, counted in UTF-8 bytes", () => {
  assert.equal(loadConfig([], { JWT_SECRET: "x".repeat(32) }).jwtSecret, "x".repeat(32));
  // 16 two-byte characters are 32 bytes.
  assert.equal(loadConfig([], { JWT_SECRET: "é".repeat(16) }).jwtSecret, "é".repeat(16));
  assertConfigError(() => loadConfig([], { JWT_SECRET: "é".repeat(15) }), /JWT_SECRET/);
});

Deno.test("loadConfig does not echo a short JWT_SECRET in its error", () => {
  const error = assertConfigError(
    () => loadConfig([], { JWT_SECRET: "hunter2-s3cr3t" }),
    /JWT_SECRET/,
  );
  assert.ok(!error.message.includes("hunter2-s3cr3t"));
});

Deno.test("loadConfig rejects PASSWORD_ITERATIONS below 600000", () => {
  for (const value of ["599999", "1000", "0", "lots"]) {
    assertConfigError(() => loadConfig([], { PASSWORD_ITERATIONS: value }), /PASSWORD_ITERATIONS/);
  }
  assert.equal(loadConfig([], { PASSWORD_ITERATIONS: "700000" }).passwordIterations, 700_000);
});

Deno.test("loadConfig rejects an invalid LOG_LEVEL", () => {
  for (const value of ["verbose", "trace", "0"]) {
    assertConfigError(() => loadConfig([], { LOG_LEVEL: value }), /LOG_LEVEL/);
  }
  assert.equal(loadConfig([], { LOG_LEVEL: "DEBUG" }).logLevel, "debug");
  assert.equal(loadConfig([], { LOG_LEVEL: "warn" }).logLevel, "warn");
});

Deno.test("loadConfig rejects an unknown flag", () => {
  assertConfigError(() => loadConfig(["--prot", "8443"], {}), /prot/);
  assertConfigError(() => loadConfig(["-x"], {}), /x/);
});

Deno.test("loadConfig reads --dev and the other environment settings", () => {
  const config = loadConfig(["--dev"], {
    TLS_CERT: "/etc/tls/c.pem",
    TLS_KEY: "/etc/tls/k.pem",
    DATABASE_URL: "sqlite::memory:",
    PUBLIC_URL: "https://auth.example.com/",
    JWT_ISSUER: "https://issuer.example.com",
    ACCESS_TOKEN_TTL: "60",
    JWT_LEEWAY: "0",
    HTTP_PORT: "8080",
  });
  assert.equal(config.dev, true);
  assert.equal(config.tlsCert, "/etc/tls/c.pem");
  assert.equal(config.tlsKey, "/etc/tls/k.pem");
  assert.equal(config.databaseUrl, "sqlite::memory:");
  assert.equal(config.publicUrl, "https://auth.example.com");
  assert.deepEqual(publicIdentity(config, "https://localhost:8443"), {
    publicUrl: "https://auth.example.com",
    issuer: "https://issuer.example.com",
    audience: "https://auth.example.com",
  });
  assert.equal(config.accessTokenTtlSeconds, 60);
  assert.equal(config.clockLeewaySeconds, 0);
  assert.equal(config.httpPort, 8080);
});

Deno.test("loadConfig rejects a PUBLIC_URL that is not https", () => {
  assertConfigError(() => loadConfig([], { PUBLIC_URL: "http://auth.example.com" }), /PUBLIC_URL/);
  assertConfigError(() => loadConfig([], { PUBLIC_URL: "not a url" }), /PUBLIC_URL/);
});

Deno.test("loadConfig rejects out-of-range numeric settings naming the variable", () => {
  assertConfigError(() => loadConfig([], { ACCESS_TOKEN_TTL: "0" }), /ACCESS_TOKEN_TTL/);
  assertConfigError(() => loadConfig([], { JWT_LEEWAY: "301" }), /JWT_LEEWAY/);
  assertConfigError(() => loadConfig([], { HTTP_PORT: "99999" }), /HTTP_PORT/);
});

/** Every duration setting with its bounds in seconds, as its error message states them. */
const DURATIONS: [name: string, min: number, max: number, maxText: string][] = [
  ["ACCESS_TOKEN_TTL", 1, 86400, "1 day"],
  ["REFRESH_TOKEN_TTL", 60, 365 * 86400, "365 days"],
  ["REFRESH_TOKEN_IDLE_TTL", 60, 30 * 86400, "30 days"],
  ["JWT_LEEWAY", 0, 300, "5 minutes"],
  ["THROTTLE_BASE_DELAY", 1, 3600, "1 hour"],
  ["THROTTLE_MAX_DELAY", 1, 86400, "1 day"],
  ["DEVICE_TOKEN_TTL", 60, 400 * 86400, "400 days"],
  ["BODY_TIMEOUT", 1, 300, "5 minutes"],
  ["BROWSER_SESSION_IDLE", 60, 400 * 86400, "400 days"],
  ["BROWSER_SESSION_MAX", 60, 400 * 86400, "400 days"],
  ["SHUTDOWN_TIMEOUT", 0, 3600, "1 hour"],
  ["DRAIN_DELAY", 0, 600, "10 minutes"],
];

Deno.test("every duration setting says it is in seconds, with its bounds, and accepts exactly them", () => {
  for (const [name, min, max, maxText] of DURATIONS) {
    loadConfig([], { [name]: String(min) });
    loadConfig([], { [name]: String(max) });
    const bounds = name === "REFRESH_TOKEN_IDLE_TTL"
      ? `from ${min} to REFRESH_TOKEN_TTL \\(${max}, ${maxText}\\)`
      : `from ${min} to ${max} \\(${maxText}\\)`;
    for (const value of [String(max + 1), "1.5", "soon", ...min > 0 ? [String(min - 1)] : []]) {
      assertConfigError(
        () => loadConfig([], { [name]: value }),
        new RegExp(
          `^${name} is in seconds: a whole number ${bounds}, not "${RegExp.escape(value)}"$`,
        ),
      );
    }
  }
});

Deno.test("a duration written with a unit is refused with the number of seconds to write", () => {
  assert.equal(
    thrownBy(() => loadConfig([], { ACCESS_TOKEN_TTL: "15m" }), ConfigError).message,
    'ACCESS_TOKEN_TTL is in seconds: a whole number from 1 to 86400 (1 day), not "15m"; for 15m write 900',
  );
  assertConfigError(() => loadConfig([], { REFRESH_TOKEN_TTL: "30d" }), /; for 30d write 2592000$/);
  assertConfigError(() => loadConfig([], { DRAIN_DELAY: "5s" }), /; for 5s write 5$/);
  assertConfigError(() => loadConfig([], { THROTTLE_MAX_DELAY: "2h" }), /; for 2h write 7200$/);
  // Beyond the bound, the conversion is given without an invitation to write it.
  assertConfigError(
    () => loadConfig([], { JWT_LEEWAY: "1h" }),
    /^JWT_LEEWAY is in seconds: a whole number from 0 to 300 \(5 minutes\), not "1h" \(1h is 3600 seconds\)$/,
  );
});

Deno.test("loadConfig reads REFRESH_TOKEN_IDLE_TTL, defaults it to at most REFRESH_TOKEN_TTL and refuses it above", () => {
  const both = loadConfig([], { REFRESH_TOKEN_TTL: "7200", REFRESH_TOKEN_IDLE_TTL: "600" });
  assert.equal(both.refreshTokenTtlSeconds, 7200);
  assert.equal(both.refreshTokenIdleTtlSeconds, 600);
  const short = loadConfig([], { REFRESH_TOKEN_TTL: "3600" });
  assert.equal(short.refreshTokenIdleTtlSeconds, 3600, "the default never exceeds the session");
  assertConfigError(
    () => loadConfig([], { REFRESH_TOKEN_TTL: "3600", REFRESH_TOKEN_IDLE_TTL: "3601" }),
    /^REFRESH_TOKEN_IDLE_TTL is in seconds: a whole number from 60 to REFRESH_TOKEN_TTL \(3600, 1 hour\), not "3601"$/,
  );
  assertConfigError(() => loadConfig([], { REFRESH_TOKEN_IDLE_TTL: "59" }), /IDLE_TTL/);
});

Deno.test("loadConfig refuses the default client id auth-api as a confidential client", () => {
  const secret = "s".repeat(32);
  const error = assertConfigError(
    () => loadConfig([], { OAUTH_CLIENTS: `svc:${secret},auth-api:${secret}` }),
    /OAUTH_CLIENTS cannot list "auth-api"/,
  );
  assert.ok(!error.message.includes(secret), "the secret is not echoed");
});

Deno.test("loadConfig reads OAUTH_INTROSPECTORS, which must name confidential clients", () => {
  const secret = "s".repeat(32);
  const config = loadConfig([], {
    OAUTH_CLIENTS: `rs:${secret},svc:${secret}`,
    OAUTH_INTROSPECTORS: "rs",
  });
  assert.deepEqual(config.oauthIntrospectors, ["rs"]);
  assertConfigError(
    () => loadConfig([], { OAUTH_CLIENTS: `rs:${secret}`, OAUTH_INTROSPECTORS: "rs, other" }),
    /OAUTH_INTROSPECTORS names "other"/,
  );
  assertConfigError(() => loadConfig([], { OAUTH_INTROSPECTORS: "auth-api" }), /auth-api/);
});

Deno.test("loadConfig reads TRUSTED_PROXIES as addresses and CIDR ranges, IPv4 and IPv6", () => {
  const config = loadConfig([], {
    TRUSTED_PROXIES: " 10.0.0.0/8, 192.0.2.7 2001:db8::/32,::1 ",
    TRUSTED_PROXY_HEADER: "Forwarded",
    IPV6_PREFIX_LENGTH: "48",
  });
  assert.deepEqual(
    config.clientAddress.trustedProxies.map((range) => range.prefixLength),
    [104, 128, 32, 128],
  );
  assert.equal(config.clientAddress.proxyHeader, "forwarded");
  assert.equal(config.clientAddress.ipv6PrefixLength, 48);
});

Deno.test("loadConfig rejects a TRUSTED_PROXIES entry that is not an address or range, quoting it", () => {
  for (
    const entry of ["proxy.internal", "10.0.0.0/33", "10.0.0.256", "2001:db8::/129", "10.0.0.0/"]
  ) {
    const error = assertConfigError(
      () => loadConfig([], { TRUSTED_PROXIES: `10.0.0.1, ${entry}` }),
      /^TRUSTED_PROXIES has "/,
    );
    assert.ok(error.message.includes(`"${entry}"`), error.message);
  }
});

Deno.test("loadConfig rejects an unknown TRUSTED_PROXY_HEADER and an out-of-range IPV6_PREFIX_LENGTH", () => {
  assertConfigError(
    () => loadConfig([], { TRUSTED_PROXY_HEADER: "x-real-ip" }),
    /TRUSTED_PROXY_HEADER must be one of x-forwarded-for, forwarded, not "x-real-ip"/,
  );
  for (const value of ["0", "129", "64.5"]) {
    assertConfigError(() => loadConfig([], { IPV6_PREFIX_LENGTH: value }), /IPV6_PREFIX_LENGTH/);
  }
});

Deno.test("loadConfig reads THROTTLE_DEVICE_FAILURES and DEVICE_TOKEN_TTL", () => {
  const config = loadConfig([], { THROTTLE_DEVICE_FAILURES: "2", DEVICE_TOKEN_TTL: "3600" });
  assert.equal(config.throttle.deviceFailures, 2);
  assert.equal(config.deviceTokens.ttlSeconds, 3600);
  assertConfigError(() => loadConfig([], { THROTTLE_DEVICE_FAILURES: "0" }), /THROTTLE_DEVICE/);
  assertConfigError(() => loadConfig([], { DEVICE_TOKEN_TTL: "59" }), /DEVICE_TOKEN_TTL/);
});

Deno.test("loadConfig reads THROTTLE_IN_FLIGHT_WAIT in whole seconds, 0 to 60", () => {
  assert.equal(loadConfig([], { THROTTLE_IN_FLIGHT_WAIT: "3" }).throttle.inFlightWaitMs, 3000);
  assert.equal(loadConfig([], { THROTTLE_IN_FLIGHT_WAIT: "0" }).throttle.inFlightWaitMs, 0);
  for (const value of ["61", "-1", "1.5", "soon"]) {
    assertConfigError(
      () => loadConfig([], { THROTTLE_IN_FLIGHT_WAIT: value }),
      /THROTTLE_IN_FLIGHT_WAIT/,
    );
  }
});

Deno.test("urlHost brackets IPv6 and maps wildcard addresses to localhost", () => {
  assert.equal(urlHost("0.0.0.0"), "localhost");
  assert.equal(urlHost("::"), "localhost");
  assert.equal(urlHost("::1"), "[::1]");
  assert.equal(urlHost("example.com"), "example.com");
});

Deno.test("loadConfig reads the browser-session lifetimes, 30 minutes idle and 10 hours at most by default", () => {
  assert.deepEqual(loadConfig([], {}).browserSession, { idleSeconds: 1800, maxSeconds: 36_000 });
  assert.deepEqual(
    loadConfig([], { BROWSER_SESSION_IDLE: "600", BROWSER_SESSION_MAX: "7200" }).browserSession,
    { idleSeconds: 600, maxSeconds: 7200 },
  );
  assertConfigError(() => loadConfig([], { BROWSER_SESSION_IDLE: "59" }), /BROWSER_SESSION_IDLE/);
  assertConfigError(() => loadConfig([], { BROWSER_SESSION_MAX: "1h" }), /BROWSER_SESSION_MAX/);
});

Deno.test("loadConfig refuses HTTP_PORT with a wildcard HOST and no PUBLIC_URL, since redirects never use the request's Host", () => {
  for (const host of ["0.0.0.0", "::"]) {
    assertConfigError(
      () => loadConfig(["--host", host], { HTTP_PORT: "8080" }),
      /HTTP_PORT with HOST ".*" needs PUBLIC_URL/,
    );
    const config = loadConfig(["--host", host], {
      HTTP_PORT: "8080",
      PUBLIC_URL: "https://auth.example.com",
    });
    assert.equal(config.httpPort, 8080);
  }
  assert.equal(loadConfig([], { HTTP_PORT: "8080" }).httpPort, 8080, "localhost is fine");
});

Deno.test("loadConfig reads PGSSLROOTCERT as the PostgreSQL root certificate file", () => {
  assert.equal(loadConfig([], {}).databaseRootCert, undefined);
  assert.equal(
    loadConfig([], { PGSSLROOTCERT: "certs/db-ca.pem" }).databaseRootCert,
    "certs/db-ca.pem",
  );
});

Deno.test("ENV_VARIABLES lists every variable config_load.ts reads, and readEnvironment reads only those", async () => {
  const source = await Deno.readTextFile(new URL("../src/config_load.ts", import.meta.url));
  const read = new Set([...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]));
  assert.ok(read.size > 20, "config_load.ts reads its settings as env.NAME");
  assert.deepEqual([...read].filter((name) => !ENV_VARIABLES.includes(name as never)), []);
  assert.deepEqual(ENV_VARIABLES.filter((name) => !read.has(name)), []);
  assert.deepEqual(Object.keys(readEnvironment()).sort(), [...ENV_VARIABLES].sort());
  // Nothing else in src/ reads the environment, except the client (API_URL, API_PASSWORD) and
  // main.ts's LOG_LEVEL check for stacks.
  for await (const file of walkTs(new URL("../src/", import.meta.url))) {
    const text = await Deno.readTextFile(file);
    const uses = [...text.matchAll(/Deno\.env\.(\w+)\(("[A-Z_]+")?/g)].map((m) =>
      `${m[1]}(${m[2] ?? ""})`
    );
    const allowed: Record<string, string[]> = {
      "config_environment.ts": ["get()"],
      "client.ts": ['get("API_URL")', 'get("API_PASSWORD")'],
      "main.ts": ['get("LOG_LEVEL")'],
    };
    const name = file.pathname.split("/").at(-1)!;
    assert.deepEqual(uses.filter((use) => !(allowed[name] ?? []).includes(use)), [], name);
  }
});

async function* walkTs(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walkTs(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}
