/**
 * @module
 * The Deno permissions the service runs with, from deno.json: the serve tasks and the compiled
 * binary may read only certs/ and data/ and exactly the environment variables the configuration
 * reads, a child run with those flags can do nothing else, and every task has a one-line
 * description and prints no warning of Deno's.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMPILE_ARGS } from "../src/deploy/compile.ts";
import { ENV_VARIABLES, POSTGRES_CLIENT_VARIABLES } from "../src/config_environment.ts";
import { runCli, runProgram, taskFlags } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate } from "./helpers/tls.ts";

const CONFIG_PATH = new URL("../deno.json", import.meta.url);
const CONFIG: {
  tasks: Record<string, { command: string; description: string }>;
  permissions: Record<string, Record<string, true | string[]>>;
} = JSON.parse(await Deno.readTextFile(CONFIG_PATH));
const TASKS = CONFIG.tasks;

/**
 * The permission flags of a task, as flag → value ("" for a flag without a list), with a named
 * set (`-P=NAME`) written out as the flags it stands for; for `compile`, those it gives
 * `deno compile`, which the binary keeps.
 */
function permissions(task: string): Map<string, string> {
  return permissionFlags(
    task,
    task === "compile" ? COMPILE_ARGS : TASKS[task].command.split(/\s+/),
  );
}

/** The permission flags among `words`, a command line of `task`, as {@linkcode permissions}. */
function permissionFlags(task: string, words: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  const add = (flag: string, value: string) => {
    assert.ok(!flags.has(flag), `${task}: ${flag} is given twice`);
    flags.set(flag, value);
  };
  for (const word of words) {
    const set = /^(?:-P|--permission-set)=(.+)$/.exec(word);
    if (set) {
      assert.ok(set[1] in CONFIG.permissions, `${task}: no permission set "${set[1]}"`);
      for (const [name, value] of Object.entries(CONFIG.permissions[set[1]])) {
        add(`--allow-${name}`, value === true ? "" : value.join(","));
      }
      continue;
    }
    const match = /^(--allow-[a-z-]+|-A|--allow-all)(?:=(.*))?$/.exec(word);
    if (match) add(match[1], match[2] ?? "");
  }
  return flags;
}

const SERVICE_ENV = [...ENV_VARIABLES, ...POSTGRES_CLIENT_VARIABLES].sort().join(",");

Deno.test("the service's tasks and the compiled binary allow only certs/, data/ and the variables the service reads", () => {
  const expected: Record<string, Record<string, string>> = {
    start: { read: "certs,data", write: "certs,data" },
    serve: { read: "certs,data", write: "data" },
    user: { read: "certs,data", write: "data" },
    keys: { read: "certs,data", write: "data" },
    clients: { read: "certs,data", write: "data" },
    compile: { read: "certs,data", write: "certs,data" },
  };
  for (const [task, { read, write }] of Object.entries(expected)) {
    const flags = permissions(task);
    assert.deepEqual(
      [...flags.keys()].sort(),
      ["--allow-env", "--allow-net", "--allow-read", "--allow-write"],
      `${task}: no other permission, and none given whole but the network`,
    );
    assert.equal(flags.get("--allow-read"), read, task);
    assert.equal(flags.get("--allow-write"), write, task);
    assert.equal(flags.get("--allow-env")!.split(",").sort().join(","), SERVICE_ENV, task);
    // The network stays open: HOST, PORT, HTTP_PORT and the DATABASE_URL host are run-time
    // settings, so no list written here could name them.
    assert.equal(flags.get("--allow-net"), "", task);
  }
  const certs = permissions("certs");
  assert.deepEqual(Object.fromEntries(certs), {
    "--allow-read": "certs",
    "--allow-write": "certs",
  });
  // The compile task itself only runs deno compile and cleans up a bin/ left empty.
  assert.deepEqual(
    Object.fromEntries(permissionFlags("compile", TASKS.compile.command.split(/\s+/))),
    { "--allow-run": "", "--allow-read": "bin", "--allow-write": "bin" },
  );
  const client = permissions("client");
  assert.equal(client.get("--allow-env"), "API_URL,API_PASSWORD");
  assert.equal(client.has("--allow-write"), false);
});

Deno.test("serve, run with the serve task's permissions, cannot read a certificate outside certs/", async () => {
  await withTempDir(async (dir) => {
    const { certPem, keyPem } = await testCertificate();
    await Deno.writeTextFile(join(dir, "cert.pem"), certPem);
    await Deno.writeTextFile(join(dir, "key.pem"), keyPem, { mode: 0o600 });
    const result = await runCli(["serve", "--port", "0"], {
      cwd: dir,
      env: { TLS_CERT: "cert.pem", TLS_KEY: "key.pem" },
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^Error: TLS_CERT "cert\.pem" is outside what this process may read .*read permission of the tasks in deno\.json/,
    );
    const writes = await runCli(["user", "add", "alice"], {
      cwd: dir,
      env: { DATABASE_URL: "sqlite:elsewhere/auth.db" },
      stdin: "long enough password\n",
    });
    assert.equal(writes.code, 1);
    assert.match(writes.stderr, /elsewhere/);
    assert.equal(writes.stderr.trimEnd().split("\n").length, 1, writes.stderr);
  });
});

Deno.test("the service's permission set allows exactly the variables src/config.ts reads, and no path", () => {
  assert.deepEqual(Object.keys(CONFIG.permissions), ["service"]);
  const { env, net, ...others } = CONFIG.permissions.service;
  assert.deepEqual(env, [...ENV_VARIABLES, ...POSTGRES_CLIENT_VARIABLES]);
  assert.equal(net, true);
  // Paths in a set are taken relative to deno.json, and deno compile writes them into the binary
  // as absolute paths of the build machine: certs/ and data/ stay flags, relative to where the
  // service runs.
  assert.deepEqual(others, {});
});

Deno.test("every task has a one-line description and a short command that names no variable list but the client's", () => {
  for (const [name, { command, description }] of Object.entries(TASKS)) {
    assert.match(description, /^[A-Z][^\n]{10,120}$/, name);
    assert.ok(command.length <= 400, `${name}: ${command.length} characters`);
    const lists = command.match(/--allow-env=\S+/g) ?? [];
    assert.ok(lists.length === 0 || name === "client", `${name} repeats a variable list`);
  }
});

Deno.test("deno task lists every task with its description, and the service tasks print no warning of Deno's", async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const listed = await runProgram(Deno.execPath(), ["task"], { cwd: root });
  assert.equal(listed.code, 0, listed.stderr);
  const listing = listed.stdout + listed.stderr;
  for (const [name, { description }] of Object.entries(TASKS)) {
    assert.ok(listing.includes(`- ${name}\n    // ${description}\n`), `${name} in: ${listing}`);
  }
  assert.ok(listing.length < 3000, `deno task prints ${listing.length} characters`);
  await withTempDir(async (dir) => {
    // The set is experimental and Deno says so on stderr unless -q: nothing but our own lines.
    const listedUsers = await runCli(["user", "list"], { cwd: dir });
    assert.equal(listedUsers.code, 0, listedUsers.stderr);
    assert.equal(listedUsers.stderr, "");
  });
});

Deno.test("a child run with the serve task's flags may read the listed variables and certs/ and data/ where it runs, nothing else", async () => {
  await withTempDir(async (dir) => {
    const probe = join(dir, "probe.ts");
    await Deno.writeTextFile(
      probe,
      `const asked = [
        { name: "env", variable: "PORT" },
        { name: "env", variable: "PGPASSWORD" },
        { name: "env", variable: "HOME" },
        { name: "net" },
        { name: "read", path: "certs/cert.pem" },
        { name: "read", path: "data" },
        { name: "read", path: ${
        JSON.stringify(fileURLToPath(new URL("../certs", import.meta.url)))
      } },
        { name: "read", path: "/etc/hostname" },
        { name: "write", path: "data/auth.db" },
        { name: "write", path: "certs" },
        { name: "run" },
      ];
      const states = [];
      for (const descriptor of asked) states.push((await Deno.permissions.query(descriptor)).state);
      console.log(states.join(" "));`,
    );
    const result = await runProgram(
      Deno.execPath(),
      ["run", "--config", fileURLToPath(CONFIG_PATH), ...taskFlags("serve"), probe],
      { cwd: dir },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.deepEqual(result.stdout.trim().split(" "), [
      "granted",
      "granted",
      "prompt",
      "granted",
      "granted",
      "granted",
      "prompt",
      "prompt",
      "granted",
      "prompt",
      "prompt",
    ]);
  });
});
