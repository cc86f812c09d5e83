import assert from "node:assert/strict";
import { join } from "node:path";
import { MIN_PBKDF2_ITERATIONS } from "../src/auth/passwords.ts";
import {
  ConfigError,
  ENV_VARIABLES,
  loadConfig,
  publicIdentity,
  readEnvironment,
  urlHost,
} from "../src/config.ts";
import { openStore } from "../src/store/open.ts";

/** Asserts that `fn` throws a one-line ConfigError whose message matches `pattern`. */
function assertConfigError(fn: () => unknown, pattern: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${caught}`);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes("\n"), `not one line: ${JSON.stringify(caught.message)}`);
  assert.match(caught.message, /^[A-Z-]/, "starts upper-case (or with a flag)");
  assert.ok(!caught.message.endsWith("."), "no trailing period");
  return caught;
}

/** Like assertConfigError for a promise. */
async function assertConfigRejects(promise: Promise<unknown>, pattern: RegExp): Promise<string> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${caught}`);
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes("\n"));
  return caught.message;
}

Deno.test("loadConfig uses the documented defaults with no flags and no environment", () => {
  const config = loadConfig([], {});
  assert.equal(config.port, 8443);
  assert.equal(config.host, "localhost");
  assert.equal(config.databaseUrl, "sqlite:data/auth.db");
  assert.equal(config.tlsCert, "certs/cert.pem");
  assert.equal(config.tlsKey, "certs/key.pem");
  assert.equal(config.accessTokenTtlSeconds, 900);
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
  });
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

Deno.test("urlHost brackets IPv6 and maps wildcard addresses to localhost", () => {
  assert.equal(urlHost("0.0.0.0"), "localhost");
  assert.equal(urlHost("::"), "localhost");
  assert.equal(urlHost("::1"), "[::1]");
  assert.equal(urlHost("example.com"), "example.com");
});

Deno.test("openStore rejects an unsupported DATABASE_URL with a ConfigError", async () => {
  await assertConfigRejects(openStore("mysql://x"), /DATABASE_URL.*sqlite:/);
  await assertConfigRejects(openStore("data/auth.db"), /DATABASE_URL/);
});

Deno.test("openStore never prints a password from the DATABASE_URL", async () => {
  for (
    const url of [
      "postgres://u:secret@h/db",
      "postgres://u:secret@h:5432/db?sslmode=require",
      "postgresql://u:sec@ret@h/db",
      "postgres://h/db?user=u&password=secret",
      "postgres://u:secret@h/db\nnext",
    ]
  ) {
    const message = await assertConfigRejects(openStore(url), /DATABASE_URL/);
    assert.ok(!message.includes("secret"), message);
    assert.ok(!message.includes("ret@"), message);
  }
});

Deno.test("openStore rejects sqlite: without a path", async () => {
  await assertConfigRejects(openStore("sqlite:"), /DATABASE_URL/);
});

Deno.test("openStore opens sqlite::memory: and a sqlite file, creating its directory", async () => {
  const memory = await openStore("sqlite::memory:");
  assert.deepEqual(await memory.listUsers(), []);
  await memory.close();
  const dir = await Deno.makeTempDir({ prefix: "config_test_" });
  try {
    const path = join(dir, "nested", "auth.db");
    const store = await openStore(`sqlite:${path}`);
    await store.addUser("alice", "$hash");
    await store.close();
    assert.ok((await Deno.stat(path)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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

Deno.test("ENV_VARIABLES lists every variable config.ts reads, and readEnvironment reads only those", async () => {
  const source = await Deno.readTextFile(new URL("../src/config.ts", import.meta.url));
  const read = new Set([...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]));
  assert.ok(read.size > 20, "config.ts reads its settings as env.NAME");
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
      "config.ts": ["get()"],
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
