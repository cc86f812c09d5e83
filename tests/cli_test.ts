/**
 * @module
 * The `src/main.ts` command line run as a child process in a temp dir: `user` and `keys` commands,
 * usage errors (exit 2) and one-line start-up errors (exit 1), `certs` and `serve` with and without
 * `--dev` (demo users, listening lines at any log level), and the `compile` task, which must pack
 * only the npm packages src/main.ts imports and leave no empty bin/ behind when it fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Passwords } from "../src/auth/accounts/passwords.ts";
import { NO_USERS } from "../src/check.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import {
  assertOneLineError,
  assertUsageError,
  CLIENT,
  type CliResult,
  runCli,
  type RunCliOptions,
  runProgram,
  ServerProcess,
} from "./helpers/process.ts";
import { embeddedNpmPackages, reachableNpmPackages } from "./helpers/compiled_binary.ts";
import { OPENSSL, testNeeding } from "./helpers/prerequisites.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { opensslVersion1Certificate, testCertificate, writeTlsFiles } from "./helpers/tls.ts";

const GREETING = `{"message":"Hello, user1! You're authenticated."}`;

/** Runs `deno run … src/main.ts <args>` (or `options.script`) in `cwd`. */
function cli(cwd: string, args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return runCli(args, { cwd, ...options });
}

async function storedHash(dir: string, username: string): Promise<string | undefined> {
  const store = await SqliteStore.open(join(dir, "data/auth.db"));
  try {
    return (await store.getUser(username))?.passwordHash;
  } finally {
    await store.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function postLogin(url: string, client: Deno.HttpClient, username: string, password: string) {
  const res = await fetch(`${url}/login`, {
    method: "POST",
    client,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

Deno.test("user add, list, passwd and remove manage an account with the password from stdin", async () => {
  await withTempDir(async (dir) => {
    const hasher = new Passwords();
    const added = await cli(dir, ["user", "add", "alice"], { stdin: "correct horse battery\n" });
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /Added user "alice"/);
    const firstHash = (await storedHash(dir, "alice")) ?? "";
    assert.ok(firstHash.startsWith("$pbkdf2-sha256$i="), firstHash);
    assert.ok(!firstHash.includes("correct horse"));
    assert.ok((await hasher.verify("correct horse battery", firstHash)).ok);

    const listed = await cli(dir, ["user", "list"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, "alice\n");

    const again = await cli(dir, ["user", "add", "alice"], { stdin: "another password\n" });
    assertOneLineError(again, /already exists/);
    assert.equal(await storedHash(dir, "alice"), firstHash, "the existing password is kept");

    const changed = await cli(dir, ["user", "passwd", "alice"], { stdin: "new password 42\n" });
    assert.equal(changed.code, 0, changed.stderr);
    const secondHash = (await storedHash(dir, "alice"))!;
    assert.notEqual(secondHash, firstHash);
    assert.ok((await hasher.verify("new password 42", secondHash)).ok);
    assert.ok(!(await hasher.verify("correct horse battery", secondHash)).ok);

    const removed = await cli(dir, ["user", "remove", "alice"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'Removed user "alice" and ended 0 sessions\n');
    assert.equal(await storedHash(dir, "alice"), undefined);
    assert.equal((await cli(dir, ["user", "list"])).stdout, "");

    assertOneLineError(await cli(dir, ["user", "remove", "nobody"]), /does not exist/);
    assertOneLineError(
      await cli(dir, ["user", "passwd", "nobody"], { stdin: "whatever123\n" }),
      /does not exist/,
    );
  });
});

Deno.test("user add refuses an empty or short password and a name with a control character", async () => {
  await withTempDir(async (dir) => {
    assertOneLineError(await cli(dir, ["user", "add", "bob"], { stdin: "\n" }), /empty/);
    assertOneLineError(await cli(dir, ["user", "add", "bob"], { stdin: "" }), /empty/);
    assertOneLineError(
      await cli(dir, ["user", "add", "bob"], { stdin: "short1\n" }),
      /at least 8 characters/,
    );
    assertOneLineError(
      await cli(dir, ["user", "add", "bad\u0007name"], { stdin: "long enough password\n" }),
      /control characters/,
    );
    assertUsageError(await cli(dir, ["user", "add"]), /Missing NAME/);
    assert.equal(
      assertUsageError(await cli(dir, ["user", "logout"]), /Missing NAME/),
      "Usage: deno task user logout NAME (--help for more)",
    );
    assert.equal((await cli(dir, ["user", "list"])).stdout, "", "no user was created");
  });
});

Deno.test("keys rotate makes a new current key and keys list shows the previous one retiring", async () => {
  await withTempDir(async (dir) => {
    const empty = await cli(dir, ["keys", "list"]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, "");

    const first = await cli(dir, ["keys", "rotate"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /New signing key "[\w-]+"/);
    const second = await cli(dir, ["keys", "rotate"]);
    assert.equal(second.code, 0, second.stderr);

    const listed = await cli(dir, ["keys", "list"]);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2, listed.stdout);
    assert.equal(lines.filter((line) => line.endsWith("current")).length, 1, listed.stdout);
    assert.equal(lines.filter((line) => /retires \d{4}-/.test(line)).length, 1, listed.stdout);
    assert.ok(lines.every((line) => line.includes("ES256")), listed.stdout);
    const newKid = /New signing key "([\w-]+)"/.exec(second.stdout)![1];
    assert.ok(lines.find((line) => line.endsWith("current"))!.startsWith(newKid));

    assertUsageError(await cli(dir, ["keys", "shuffle"]), /Unknown command "shuffle"/);
  });
});

Deno.test("an unknown or missing command exits 2 with an error line and the usage line", async () => {
  await withTempDir(async (dir) => {
    assertUsageError(await cli(dir, ["frobnicate"]), /Unknown command "frobnicate"/);
    assertUsageError(await cli(dir, []), /Missing command/);
  });
});

Deno.test("serve without a certificate exits 1 with one error line naming the file", async () => {
  await withTempDir(async (dir) => {
    const result = await cli(dir, ["serve", "--port", "0"]);
    assertOneLineError(result, /certs\/cert\.pem/);
    assert.equal(result.stdout, "");
  });
});

testNeeding(
  [OPENSSL],
  "serve with an OpenSSL version 1 certificate exits 1 with one line saying so",
  async () => {
    await withTempDir(async (dir) => {
      // The tutorial's three commands, which make an X.509 v1 certificate.
      await Deno.mkdir(join(dir, "certs"));
      await opensslVersion1Certificate(join(dir, "certs"));
      const result = await cli(dir, ["serve", "--port", "0"], {
        env: { TLS_CERT: "certs/certificate.pem", TLS_KEY: "certs/private_key.pem" },
      });
      assertOneLineError(result, /version 1/);
      assert.match(result.stderr, /certificate\.pem/);
    });
  },
);

Deno.test("serve with a JWT_SECRET shorter than 32 bytes exits 1 with one error line", async () => {
  await withTempDir(async (dir) => {
    const result = await cli(dir, ["serve", "--dev", "--port", "0"], {
      env: { JWT_SECRET: "too-short-secret" },
    });
    assertOneLineError(result, /JWT_SECRET must be at least 32 bytes/);
    assert.ok(!result.stderr.includes("too-short-secret"), "the secret is not echoed");
  });
});

Deno.test("certs writes a key, CSR and certificate into certs/ that serve (without --dev) uses, seeding no users", async () => {
  await withTempDir(async (dir) => {
    const made = await cli(dir, ["certs", "--ecdsa"]);
    assert.equal(made.code, 0, made.stderr);
    for (const file of ["key.pem", "csr.pem", "cert.pem"]) {
      assert.ok(await exists(join(dir, "certs", file)), file);
    }
    assert.equal((await Deno.stat(join(dir, "certs/key.pem"))).mode! & 0o777, 0o600);
    const certPem = await Deno.readTextFile(join(dir, "certs/cert.pem"));
    assert.match(certPem, /^-----BEGIN CERTIFICATE-----/);
    assert.match(await Deno.readTextFile(join(dir, "certs/csr.pem")), /BEGIN CERTIFICATE REQUEST/);
    assertOneLineError(await cli(dir, ["certs"]), /already exist/);
    // The task may write only certs/.
    assertOneLineError(
      await cli(dir, ["certs", "--dir", "tls"]),
      /^Error: --dir "tls" is outside what this process may write \(the certs task writes only under certs\/\): use --dir certs\/NAME .*, or add "tls" to the write permission of the certs task in deno\.json$/,
    );
    assert.equal(await exists(join(dir, "tls")), false);

    await using server = new ServerProcess(["serve", "--port", "0"], { cwd: dir });
    const url = await server.listening();
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    const denied = await postLogin(url, client, "user1", "password1");
    assert.equal(denied.status, 400);
    assert.deepEqual(denied.body, { msg: "Invalid credentials" });
    assert.ok(!server.logs.some((line) => /demo users/.test(String(line.msg))), "no demo users");
    const status = await server.stop();
    assert.equal(status.code, 0, server.stderr);
    assert.equal((await cli(dir, ["user", "list"])).stdout, "", "no demo users were seeded");
  });
});

Deno.test("serve --dev makes a certificate and demo users, serves logins and the client, and stops on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    await using server = new ServerProcess(["serve", "--dev", "--port", "0"], { cwd: dir });
    const url = await server.listening();
    assert.match(url, /^https:\/\/localhost:[1-9]\d*$/);
    for (const file of ["certs/cert.pem", "certs/key.pem", "data/auth.db"]) {
      assert.ok(await exists(join(dir, file)), file);
    }
    const warning = server.logs.find((line) => line.level === "warn");
    assert.ok(warning, "a warning about the demo users");
    assert.match(String(warning.msg), /demo users/);

    using client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(join(dir, "certs/cert.pem"))],
    });
    // (a) the tutorial's demo user logs in over verified HTTPS.
    const demo = await postLogin(url, client, "user1", "password1");
    assert.equal(demo.status, 200);
    assert.equal(typeof demo.body.access_token, "string");

    // (b) a user added by the CLI while the server runs can log in at once.
    const added = await cli(dir, ["user", "add", "carol"], { stdin: "carol's password\n" });
    assert.equal(added.code, 0, added.stderr);
    const carol = await postLogin(url, client, "carol", "carol's password");
    assert.equal(carol.status, 200);

    // (c) the fetch client trusts the generated certificate with --ca; the password comes from
    // stdin (or API_PASSWORD, or a hidden prompt), never from the command line.
    const runClient = (args: string[], options: RunCliOptions = {}) =>
      cli(dir, ["--url", url, "--ca", "certs/cert.pem", ...args], { script: CLIENT, ...options });
    const ok = await runClient([], { stdin: "password1\n" });
    assert.equal(ok.stderr, "");
    assert.equal(ok.stdout, `${GREETING}\n`);
    assert.equal(ok.code, 0);
    const fromEnv = await runClient([], { env: { API_PASSWORD: "password1" } });
    assert.equal(fromEnv.stdout, `${GREETING}\n`, fromEnv.stderr);
    const wrong = await runClient([], { stdin: "not-the-password\n" });
    assertOneLineError(wrong, /Failed to authenticate: 400 Invalid credentials/);
    assert.equal(wrong.stdout, "");
    const onCommandLine = await runClient(["--password", "password1"]);
    assertOneLineError(onCommandLine, /--password is not accepted/);
    assert.equal(onCommandLine.stdout, "");

    // (d) --refresh --logout walks the whole token lifecycle.
    const lifecycle = await runClient(["--refresh", "--logout"], { stdin: "password1\n" });
    assert.equal(lifecycle.code, 0, lifecycle.stderr);
    assert.deepEqual(lifecycle.stdout.trimEnd().split("\n"), [
      GREETING,
      `refresh: new access and refresh tokens; /hello says ${GREETING}`,
      "logout: 200 Successfully logged out; /hello now answers 401 Token has been revoked",
    ]);

    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.stderr);
    assert.equal(server.stderr, "");
    const logs = server.logs; // every stdout line is a JSON log line
    assert.ok(logs.some((line) => line.msg === "Stopped"), server.lines.join("\n"));
    for (const line of server.lines) {
      assert.ok(!line.includes("password1") && !line.includes("carol's password"), line);
    }
  });
});

Deno.test("serve --dev creates the demo users missing from a store that has other users, and says so", async () => {
  await withTempDir(async (dir) => {
    const added = await cli(dir, ["user", "add", "alice"], { stdin: "alice's password\n" });
    assert.equal(added.code, 0, added.stderr);

    await using server = new ServerProcess(["serve", "--dev", "--port", "0"], { cwd: dir });
    const url = await server.listening();
    const seeded = server.logs.filter((line) => /demo users/.test(String(line.msg)));
    assert.equal(seeded.length, 1, server.lines.join("\n"));
    assert.equal(seeded[0].level, "warn");
    assert.match(String(seeded[0].msg), /^Development mode: created the demo users/);
    assert.deepEqual(seeded[0].created, ["user1", "user2"]);

    using client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(join(dir, "certs/cert.pem"))],
    });
    assert.equal((await postLogin(url, client, "user1", "password1")).status, 200);
    assert.equal((await postLogin(url, client, "alice", "alice's password")).status, 200);
    assert.equal((await server.stop()).code, 0, server.stderr);
  });
});

Deno.test("serve says at start how to add a user while the store has none, and not once one exists", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    const hint = (server: ServerProcess) =>
      server.logs.filter((line) => /no users/.test(String(line.msg)));

    {
      await using empty = new ServerProcess(["serve", "--port", "0"], { cwd: dir });
      await empty.listening();
      const line = await empty.waitForLog(NO_USERS);
      assert.equal(line.level, "warn");
      assert.match(String(line.msg), /deno task user add NAME/);
      assert.match(String(line.msg), /same DATABASE_URL/);
      assert.equal(hint(empty).length, 1);
      assert.equal((await empty.stop()).code, 0, empty.stderr);
    }

    const added = await cli(dir, ["user", "add", "alice"], { stdin: "alice's password\n" });
    assert.equal(added.code, 0, added.stderr);
    await using server = new ServerProcess(["serve", "--port", "0"], { cwd: dir });
    await server.listening();
    assert.equal((await server.stop()).code, 0, server.stderr);
    assert.deepEqual(hint(server), [], server.lines.join("\n"));
  });
});

Deno.test("serve with LOG_LEVEL=warn or error still prints the listening addresses, on stderr", async () => {
  await withTempDir(async (dir) => {
    const { certPem } = await testCertificate();
    await writeTlsFiles(dir);
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    for (const level of ["warn", "error"]) {
      await using server = new ServerProcess(["serve", "--port", "0"], {
        cwd: dir,
        env: { LOG_LEVEL: level, HTTP_PORT: "0" },
      });
      const [line, url, httpUrl] = await server.waitForStderr(
        /^Listening on (https:\/\/localhost:\d+) \((http:\/\/localhost:\d+) redirects to it\)\n/,
      );
      assert.equal(server.stderr, line, "one line on stderr");
      const res = await fetch(`${url}/hello`, { client });
      assert.equal(res.status, 401);
      await res.body?.cancel();
      const redirect = await fetch(`${httpUrl}/hello`, { redirect: "manual" });
      assert.equal(redirect.status, 308);
      await redirect.body?.cancel();
      assert.equal((await server.stop()).code, 0, server.stderr);
      assert.ok(!server.logs.some((line) => line.level === "info"), `no info lines at ${level}`);
    }
  });
});

/** npm packages that only the tests import (and what those pull in): never in the binary. */
const TEST_ONLY_PACKAGES = [
  "puppeteer-core",
  "chromium-bidi",
  "devtools-protocol",
  "zod",
  "ws",
  "openid-client",
  "oauth4webapi",
];

/** What the binary may add to the runtime it is joined to (about 16 MiB today). */
const MAX_EMBEDDED_BYTES = 20 * 2 ** 20;

/** A copy of the project's deno.json, deno.lock and src/ in a temp dir, to run its tasks in. */
async function withProjectCopy(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  await withTempDir(async (dir) => {
    const files = ["deno.json", "deno.lock", "src"].map((name) => join(root, name));
    const copied = await runProgram("cp", ["-r", ...files, dir]);
    assert.equal(copied.code, 0, copied.stderr);
    await fn(dir);
  });
}

/** Runs `deno task compile` in `dir` with DENORT_BIN set. */
function compileTask(dir: string, denortBin: string): Promise<CliResult> {
  return runProgram(Deno.execPath(), ["task", "compile"], {
    cwd: dir,
    env: { DENORT_BIN: denortBin },
  });
}

Deno.test("the compile task packs src/main.ts and only the npm packages it imports into bin/auth-api when DENORT_BIN names the runtime", async () => {
  // The real denort runtime cannot be downloaded here, so a small ELF program (true) stands in:
  // this checks the task's flags and that the module graph is embedded, not the runtime itself.
  await withProjectCopy(async (dir) => {
    const runtime = join(dir, "denort");
    await Deno.copyFile("/bin/true", runtime);
    const result = await compileTask(dir, runtime);
    assert.equal(result.code, 0, result.stderr);
    const binary = await Deno.readFile(join(dir, "bin/auth-api"));
    const text = new TextDecoder().decode(binary);
    assert.ok(text.startsWith("\x7fELF"), "the runtime's executable format is kept");
    assert.ok(text.includes('"entrypoint_key":"src/main.ts"'), "src/main.ts is the entry point");
    for (const file of ["server.ts", "generate.ts", "sqlite.ts", "access_tokens.ts"]) {
      assert.ok(text.includes(`{"n":"${file}"`), `the binary embeds ${file}`);
    }
    assert.ok(text.includes("--max-semi-space-size=2"), "the serve tasks' V8 flag is kept");

    // Exactly the npm packages src/main.ts reaches: none that only the tests use.
    const embedded = embeddedNpmPackages(binary);
    assert.deepEqual(embedded, await reachableNpmPackages(dir, "src/main.ts"));
    assert.ok(embedded.some((name) => name.startsWith("jose@6.")), embedded.join(", "));
    for (const testOnly of TEST_ONLY_PACKAGES) {
      const found = embedded.filter((name) => name.startsWith(`${testOnly}@`));
      assert.deepEqual(found, [], `the binary embeds ${testOnly}, which only the tests use`);
    }
    const embeddedBytes = binary.length - (await Deno.stat(runtime)).size;
    assert.ok(
      embeddedBytes < MAX_EMBEDDED_BYTES,
      `${
        (embeddedBytes / 2 ** 20).toFixed(1)
      } MiB embedded; src/deploy/README.md ("One binary") states the size`,
    );
  });
});

Deno.test("a failed compile task exits non-zero and leaves no empty bin/ behind, but keeps a bin/ with files", async () => {
  await withProjectCopy(async (dir) => {
    const missing = join(dir, "no-such-denort");
    const failed = await compileTask(dir, missing);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /denort/);
    assert.ok(!await exists(join(dir, "bin")), "no empty bin/ left behind");

    await Deno.mkdir(join(dir, "bin"));
    await Deno.writeTextFile(join(dir, "bin/auth-api"), "an earlier build");
    const again = await compileTask(dir, missing);
    assert.notEqual(again.code, 0);
    assert.equal(await Deno.readTextFile(join(dir, "bin/auth-api")), "an earlier build");
  });
});
