import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PasswordHasher } from "../src/auth/passwords.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import {
  childEnv,
  CLIENT,
  type CliResult,
  runCli,
  type RunCliOptions,
  ServeProcess,
} from "./helpers/process.ts";

const GREETING = `{"message":"Hello, user1! You're authenticated."}`;

/** Runs `deno run … src/main.ts <args>` (or `options.script`) in `cwd`. */
function cli(cwd: string, args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return runCli(args, { cwd, ...options });
}

/** Asserts a failure reported as one `Error: …` line on stderr and returns that line. */
function assertOneLineError(result: CliResult, pattern: RegExp): string {
  assert.equal(result.code, 1, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.ok(lines[0].startsWith("Error: "), lines[0]);
  assert.match(lines[0], pattern);
  return lines[0];
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-cli-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
    const hasher = new PasswordHasher();
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
    assertOneLineError(await cli(dir, ["user", "add"]), /Usage/);
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

    assertOneLineError(await cli(dir, ["keys", "shuffle"]), /Usage/);
  });
});

Deno.test("an unknown command exits 1 with one error line", async () => {
  await withTempDir(async (dir) => {
    assertOneLineError(await cli(dir, ["frobnicate"]), /Unknown command "frobnicate"/);
  });
});

Deno.test("serve without a certificate exits 1 with one error line naming the file", async () => {
  await withTempDir(async (dir) => {
    const result = await cli(dir, ["serve", "--port", "0"]);
    assertOneLineError(result, /certs\/cert\.pem/);
    assert.equal(result.stdout, "");
  });
});

Deno.test("serve with an OpenSSL version 1 certificate exits 1 with one line saying so", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "certs"));
    const openssl = async (...args: string[]) => {
      const out = await new Deno.Command("openssl", {
        args,
        cwd: join(dir, "certs"),
        stdin: "null",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    };
    // The tutorial's three commands, which make an X.509 v1 certificate.
    await openssl("genrsa", "-out", "private_key.pem", "2048");
    await openssl(
      "req",
      "-new",
      "-key",
      "private_key.pem",
      "-out",
      "csr.pem",
      "-subj",
      "/CN=localhost",
    );
    await openssl(
      ..."x509 -req -days 365 -in csr.pem -signkey private_key.pem -out certificate.pem".split(" "),
    );
    const result = await cli(dir, ["serve", "--port", "0"], {
      env: { TLS_CERT: "certs/certificate.pem", TLS_KEY: "certs/private_key.pem" },
    });
    assertOneLineError(result, /version 1/);
    assert.match(result.stderr, /certificate\.pem/);
  });
});

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
    assertOneLineError(await cli(dir, ["certs", "--dir", "tls"]), /write access to "tls"/);
    assert.equal(await exists(join(dir, "tls")), false);

    await using server = new ServeProcess(["--port", "0"], { cwd: dir });
    const url = await server.listening();
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    const denied = await postLogin(url, client, "user1", "password1");
    assert.equal(denied.status, 400);
    assert.deepEqual(denied.body, { msg: "Invalid credentials" });
    assert.ok(!server.logs.some((line) => line.level === "warn"), "no demo-user warning");
    const status = await server.stop();
    assert.equal(status.code, 0, server.stderr);
    assert.equal((await cli(dir, ["user", "list"])).stdout, "", "no demo users were seeded");
  });
});

Deno.test("serve --dev makes a certificate and demo users, serves logins and the client, and stops on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    await using server = new ServeProcess(["--dev", "--port", "0"], { cwd: dir });
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

Deno.test("the compile task packs src/main.ts into one binary when DENORT_BIN names the runtime", async () => {
  // The real denort runtime cannot be downloaded here, so a small ELF program (true) stands in:
  // this checks the task's flags and that the module graph is embedded, not the runtime itself.
  const root = fileURLToPath(new URL("..", import.meta.url));
  const tasks = JSON.parse(await Deno.readTextFile(join(root, "deno.json"))).tasks;
  const args: string[] = tasks.compile.split(/\s+/).slice(1);
  assert.equal(args[0], "compile");
  assert.equal(args.at(-1), "src/main.ts");
  const dir = await Deno.makeTempDir({ prefix: "auth-api-compile-" });
  try {
    const runtime = join(dir, "denort");
    await Deno.copyFile("/bin/true", runtime);
    const output = join(dir, "auth-api");
    const outputAt = args.indexOf("--output");
    assert.ok(outputAt > 0, "the compile task names its --output");
    args[outputAt + 1] = output;
    const result = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      env: childEnv({ DENORT_BIN: runtime }),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    const binary = await Deno.readFile(output);
    const text = new TextDecoder().decode(binary);
    assert.ok(text.startsWith("\x7fELF"), "the runtime's executable format is kept");
    assert.ok(text.includes('"entrypoint_key":"src/main.ts"'), "src/main.ts is the entry point");
    for (const file of ["server.ts", "generate.ts", "sqlite.ts", "tokens.ts"]) {
      assert.ok(text.includes(`{"n":"${file}"`), `the binary embeds ${file}`);
    }
    assert.ok(text.includes("jose@6"), "the binary embeds its npm dependencies");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
