/**
 * @module
 * Start-up failures of the real server, each one line naming the setting at fault and leaving no
 * port open: ports in use or equal, a HOST that is no address here, a store that cannot be opened,
 * a certificate that is missing or not PEM (naming the command that makes it), a file outside the
 * task's permissions; and the warning for a wildcard HOST without PUBLIC_URL.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { loadConfig } from "../src/config_load.ts";
import { createLogger } from "../src/log.ts";
import { ListenError, listenError } from "../src/listen.ts";
import { startServer } from "../src/server.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { freePort, runCli, ServerProcess, taskFlags } from "./helpers/process.ts";
import { testHasher } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";

/** How long a failing start may take before the test calls it hung (spawn and type-check included). */
const EXIT_DEADLINE_MS = 20_000;

/**
 * A temp directory with a valid certificate and key in certs/, the default layout the serve task
 * may read, for `serve` children run inside it.
 */
function withServeDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    await fn(dir);
  });
}

/** The environment of a `serve` child in `dir`: the default files, the info log, any port. */
function serveEnv(extra: Record<string, string>): Record<string, string> {
  return { LOG_LEVEL: "info", PORT: "0", ...extra };
}

/**
 * Runs `serve` with the serve task's permissions (and read access to `readable`) expecting it to
 * fail at start: it must exit 1 by itself, print exactly one `Error: …` line on stderr, write no
 * log line (so nothing kept running and logging), and leave none of `ports` open. Returns the
 * error line.
 */
async function assertFailedStart(
  dir: string,
  env: Record<string, string>,
  { ports = [], readable }: { ports?: number[]; readable?: string } = {},
): Promise<string> {
  // The serve task's permissions, with `readable` added to what it may read.
  const flags = readable === undefined
    ? undefined
    : taskFlags("serve").map((flag) =>
      flag.startsWith("--allow-read=") ? `${flag},${readable}` : flag
    );
  await using server = new ServerProcess(["serve"], { cwd: dir, env: serveEnv(env), flags });
  const status = await server.exitedWithin(EXIT_DEADLINE_MS);
  assert.equal(status.code, 1, `exit code; stderr: ${server.stderr}`);
  const lines = server.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${server.stderr}`);
  assert.match(lines[0], /^Error: [A-Z]/);
  assert.deepEqual(server.lines, [], "no log line: nothing ran on after the failure");
  for (const port of ports) {
    await assert.rejects(
      Deno.connect({ hostname: "localhost", port }),
      Deno.errors.ConnectionRefused,
      `port ${port} is closed`,
    );
  }
  return lines[0];
}

Deno.test("serve exits 1 with one line naming HTTP_PORT when HTTP_PORT is in use, leaving no port open", async () => {
  await withServeDir(async (dir) => {
    using taken = Deno.listen({ hostname: "localhost", port: 0 });
    const httpPort = (taken.addr as Deno.NetAddr).port;
    const port = freePort();
    const line = await assertFailedStart(dir, { PORT: String(port), HTTP_PORT: String(httpPort) }, {
      ports: [port],
    });
    assert.equal(
      line,
      `Error: HTTP_PORT ${httpPort} is already in use on "localhost"; choose another port with HTTP_PORT`,
    );
  });
});

Deno.test("serve exits 1 with one line naming HTTP_PORT when it equals PORT", async () => {
  await withServeDir(async (dir) => {
    const port = freePort();
    const line = await assertFailedStart(dir, { PORT: String(port), HTTP_PORT: String(port) }, {
      ports: [port],
    });
    assert.match(line, /^Error: HTTP_PORT must differ from the HTTPS port \(PORT or --port\)/);
    assert.match(line, new RegExp(`both are ${port}`));
  });
});

Deno.test("serve exits 1 with one line naming PORT when PORT is in use, leaving HTTP_PORT closed", async () => {
  await withServeDir(async (dir) => {
    using taken = Deno.listen({ hostname: "localhost", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    const httpPort = freePort();
    const line = await assertFailedStart(dir, { PORT: String(port), HTTP_PORT: String(httpPort) }, {
      ports: [httpPort],
    });
    assert.equal(
      line,
      `Error: PORT ${port} is already in use on "localhost"; choose another port with --port or PORT`,
    );
  });
});

Deno.test("serve exits 1 with one line naming HOST for text that looks like IPv4 but is not, without a lookup", async () => {
  await withServeDir(async (dir) => {
    for (const host of ["999.1.1.1", "1.2.3", "10.0.0.01"]) {
      const line = await assertFailedStart(dir, { HOST: host });
      assert.match(
        line,
        new RegExp(`^Error: HOST "${RegExp.escape(host)}" is not an IPv4 address`),
      );
      assert.match(line, /set HOST \(or --host\)/);
    }
  });
});

Deno.test("serve exits 1 with one line naming HOST for an address that is not on this machine", async () => {
  // Binding an address sends nothing on the network: the kernel refuses it at once.
  await withServeDir(async (dir) => {
    const line = await assertFailedStart(dir, { HOST: "10.255.255.1" });
    assert.equal(
      line,
      'Error: HOST "10.255.255.1" is not an address of this machine; set HOST (or --host) to an address of this machine, "localhost", or "0.0.0.0" for all',
    );
  });
});

Deno.test("serve exits 1 with one line naming DATABASE_URL when the store cannot be opened", async () => {
  await withServeDir(async (dir) => {
    // Under data/, which the serve task may read and write.
    await Deno.mkdir(join(dir, "data"));
    await Deno.writeTextFile(join(dir, "data/not-a-database"), "plain text, not SQLite\n");
    await Deno.writeTextFile(join(dir, "data/a-file"), "");
    const cases = [
      [`sqlite:${join(dir, "data/not-a-database")}`, /file is not a database/],
      [`sqlite:${join(dir, "data/a-file", "auth.db")}`, /a-file/],
      ["postgres://auth:hunter2-secret@127.0.0.1:1/auth", /127\.0\.0\.1:1/],
    ] as const;
    for (const [url, reason] of cases) {
      const line = await assertFailedStart(dir, { DATABASE_URL: url });
      assert.match(line, /DATABASE_URL/);
      assert.match(line, reason);
      assert.ok(!line.includes("hunter2"), "the password is not echoed");
    }
  });
});

Deno.test("serve exits 1 with one line when the certificate is not PEM", async () => {
  await withServeDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "certs/garbage.pem"), "not a certificate\n");
    const line = await assertFailedStart(dir, {
      TLS_CERT: join(dir, "certs/garbage.pem"),
      HTTP_PORT: "0",
    });
    assert.match(line, /garbage\.pem" is not PEM/);
  });
});

Deno.test("serve with a missing TLS_CERT under certs/ names the certs command that makes it, which then works", async () => {
  await withServeDir(async (dir) => {
    const env = { TLS_CERT: "certs/api/cert.pem", TLS_KEY: "certs/key.pem" };
    const line = await assertFailedStart(dir, env);
    assert.equal(
      line,
      'Error: Cannot read certificate "certs/api/cert.pem": file not found; run "deno task certs --dir certs/api" and set TLS_KEY=certs/api/key.pem, or set TLS_CERT and TLS_KEY to existing PEM files',
    );
    // What the line says, run with the certs task's own permissions.
    const made = await runCli(["certs", "--dir", "certs/api"], { cwd: dir });
    assert.equal(made.code, 0, made.stderr);
    await using server = new ServerProcess(["serve"], {
      cwd: dir,
      env: serveEnv({ ...env, TLS_KEY: "certs/api/key.pem" }),
    });
    assert.match(await server.listening(), /^https:\/\/localhost:\d+$/);
  });
});

Deno.test("serve with a missing TLS_CERT outside certs/ names the default files, since the certs task writes only certs/", async () => {
  await withServeDir(async (dir) => {
    // Run with read access to the other directory, so that the file is found missing.
    const elsewhere = join(dir, "somewhere");
    const line = await assertFailedStart(dir, {
      TLS_CERT: join(elsewhere, "cert.pem"),
      TLS_KEY: "certs/key.pem",
    }, { readable: elsewhere });
    assert.equal(
      line,
      `Error: Cannot read certificate "${elsewhere}/cert.pem": file not found; run "deno task certs" and set TLS_CERT=certs/cert.pem, or set TLS_CERT and TLS_KEY to existing PEM files`,
    );
  });
});

Deno.test("a file outside what the task may read or write is one line naming the setting and how to allow it in deno.json", async () => {
  await withServeDir(async (dir) => {
    const elsewhere = join(dir, "elsewhere");
    const instead = (setting: string, path: string, access: string, permissions: string) =>
      `Error: ${setting} "${path}" is outside what this process may ${access} (the deno.json tasks may ${access} only ${
        access === "read" ? "certs/ and data/" : "data/"
      }): move it there, or add "${
        dirname(path)
      }" to the ${permissions} of the tasks in deno.json, since flags after "deno task NAME" go to the program, not to Deno (a compiled binary needs rebuilding)`;
    assert.equal(
      await assertFailedStart(dir, { TLS_CERT: join(elsewhere, "cert.pem") }),
      instead("TLS_CERT", join(elsewhere, "cert.pem"), "read", "read permission"),
    );
    assert.equal(
      await assertFailedStart(dir, { TLS_KEY: join(elsewhere, "key.pem") }),
      instead("TLS_KEY", join(elsewhere, "key.pem"), "read", "read permission"),
    );
    const database = join(elsewhere, "auth.db");
    assert.equal(
      await assertFailedStart(dir, { DATABASE_URL: `sqlite:${database}` }),
      instead("DATABASE_URL", database, "read", "read and write permissions"),
    );
    // Readable but not writable: certs/ is for reading only.
    assert.equal(
      await assertFailedStart(dir, { DATABASE_URL: "sqlite:certs/auth.db" }),
      instead("DATABASE_URL", "certs/auth.db", "write", "read and write permissions"),
    );
    const rootCert = join(elsewhere, "db-ca.pem");
    const postgresEnv = {
      DATABASE_URL: "postgres://auth@db.invalid/auth?sslmode=verify-full",
      PGSSLROOTCERT: rootCert,
    };
    assert.equal(
      await assertFailedStart(dir, postgresEnv),
      instead("PGSSLROOTCERT", rootCert, "read", "read permission"),
    );
    // The check reads the store only, and the user, keys and clients commands write it.
    const checked = await runCli(["serve", "--check"], { cwd: dir, env: postgresEnv });
    assert.equal(checked.code, 1);
    assert.equal(
      checked.stderr.trimEnd(),
      instead("PGSSLROOTCERT", rootCert, "read", "read permission"),
    );
    const listed = await runCli(["user", "list"], {
      cwd: dir,
      env: { DATABASE_URL: "sqlite:certs/auth.db" },
    });
    assert.equal(listed.code, 1);
    assert.equal(
      listed.stderr.trimEnd(),
      instead("DATABASE_URL", "certs/auth.db", "write", "read and write permissions"),
    );
    await assert.rejects(Deno.stat(elsewhere), Deno.errors.NotFound, "nothing was made");
    await assert.rejects(Deno.stat(join(dir, "certs/auth.db")), Deno.errors.NotFound);
  });
});

Deno.test("startServer stops the HTTPS listener and closes the store when the redirect listener cannot start", async () => {
  // Deno's test sanitizers also fail this test if a timer (key or revocation sync) or a
  // listener outlives the failed start.
  const dir = await Deno.makeTempDir({ prefix: "auth-api-startup-" });
  try {
    const { certPem, keyPem } = await testCertificate();
    await Deno.writeTextFile(join(dir, "cert.pem"), certPem);
    await Deno.writeTextFile(join(dir, "key.pem"), keyPem);
    using taken = Deno.listen({ hostname: "localhost", port: 0 });
    const httpPort = (taken.addr as Deno.NetAddr).port;
    const port = freePort();
    const config = loadConfig(["--port", String(port)], {
      TLS_CERT: join(dir, "cert.pem"),
      TLS_KEY: join(dir, "key.pem"),
      HTTP_PORT: String(httpPort),
    });
    const store = await SqliteStore.open(join(dir, "auth.db"));
    const hasher = testHasher();
    await hasher.prepare(); // done before, so that no hashing outlives the test
    const lines: string[] = [];
    const logger = createLogger("debug", (line) => lines.push(line));
    await assert.rejects(startServer(config, logger, { store, hasher }), (error) => {
      assert.ok(error instanceof ListenError);
      assert.match(error.message, new RegExp(`^HTTP_PORT ${httpPort} is already in use`));
      return true;
    });
    await assert.rejects(
      Deno.connect({ hostname: "localhost", port }),
      Deno.errors.ConnectionRefused,
      "the HTTPS listener was shut down",
    );
    await assert.rejects(store.getUser("anyone"), "the store was closed");
    assert.deepEqual(lines, [], "no Listening line, no sync warnings");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listenError names the setting at fault for each kind of listen failure", () => {
  const target = { setting: "PORT", host: "example.test", port: 443 } as const;
  const cases: [Error, string][] = [
    [
      new Deno.errors.AddrInUse("Address already in use (os error 98)"),
      'PORT 443 is already in use on "example.test"; choose another port with --port or PORT',
    ],
    [
      new Deno.errors.PermissionDenied("Permission denied (os error 13)"),
      "PORT 443 needs privileges this process lacks (Permission denied (os error 13)); choose a port from 1024 up with --port or PORT",
    ],
    [
      new Deno.errors.AddrNotAvailable("Cannot assign requested address (os error 99)"),
      'HOST "example.test" is not an address of this machine; set HOST (or --host) to an address of this machine, "localhost", or "0.0.0.0" for all',
    ],
    [
      new Error("failed to lookup address information: Name or service not known"),
      'HOST "example.test" cannot be resolved (failed to lookup address information: Name or service not known); set HOST (or --host) to an address of this machine, "localhost", or "0.0.0.0" for all',
    ],
    [
      new URIError("invalid empty host: ''"),
      `HOST "example.test" cannot be resolved (invalid empty host: ''); set HOST (or --host) to an address of this machine, "localhost", or "0.0.0.0" for all`,
    ],
    [
      new Error("Something else"),
      'Cannot start the HTTPS listener (HOST "example.test", PORT 443): Something else',
    ],
  ];
  for (const [error, message] of cases) {
    const result = listenError(error, target);
    assert.ok(result instanceof ListenError);
    assert.equal(result.message, message);
  }
  assert.equal(
    listenError(new Deno.errors.AddrInUse("in use"), { ...target, setting: "HTTP_PORT" }).message,
    'HTTP_PORT 443 is already in use on "example.test"; choose another port with HTTP_PORT',
  );
  assert.equal(
    listenError(new Error("Odd"), { ...target, setting: "HTTP_PORT" }).message,
    'Cannot start the plain-HTTP redirect listener (HOST "example.test", HTTP_PORT 443): Odd',
  );
});

Deno.test("serve on a wildcard HOST without PUBLIC_URL warns that it names itself by localhost, and not once PUBLIC_URL is set", async () => {
  await withServeDir(async (dir) => {
    const message = (url: string) =>
      `HOST "0.0.0.0" accepts connections from other machines, but without PUBLIC_URL the service names itself "${url}" in tokens, discovery and redirects; set PUBLIC_URL to the https:// address clients use`;
    {
      await using server = new ServerProcess(["serve"], {
        cwd: dir,
        env: serveEnv({ HOST: "0.0.0.0" }),
      });
      const url = await server.listening();
      assert.match(url, /^https:\/\/localhost:\d+$/);
      const line = await server.waitForLog(message(url));
      assert.equal(line.level, "warn");
      assert.equal((await server.stop()).code, 0, server.stderr);
    }
    await using named = new ServerProcess(["serve"], {
      cwd: dir,
      env: serveEnv({ HOST: "0.0.0.0", PUBLIC_URL: "https://auth.example.test" }),
    });
    await named.listening();
    assert.equal((await named.stop()).code, 0, named.stderr);
    assert.ok(!named.lines.some((line) => line.includes("PUBLIC_URL")), named.lines.join("\n"));
  });
});
