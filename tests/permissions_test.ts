import assert from "node:assert/strict";
import { join } from "node:path";
import { ENV_VARIABLES, POSTGRES_CLIENT_VARIABLES } from "../src/config.ts";
import { runCli } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate } from "./helpers/tls.ts";

const TASKS: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
).tasks;

/** The permission flags of a task, as flag → value ("" for a flag without a list). */
function permissions(task: string): Map<string, string> {
  const flags = new Map<string, string>();
  for (const word of TASKS[task].split(/\s+/)) {
    const match = /^(--allow-[a-z-]+|-A|--allow-all)(?:=(.*))?$/.exec(word);
    if (match) flags.set(match[1], match[2] ?? "");
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
