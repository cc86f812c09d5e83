/**
 * @module
 * The README's five-minute path, run as written: the bash block after the
 * `<!-- five-minute-path -->` marker, with curl, jq and openssl, in a checkout of its own (the
 * project's deno.json, deno.lock and src/ linked into a temporary directory), so that
 * `deno task start` makes a fresh certificate and store there, on a free port.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CURL, JQ, OPENSSL, testNeeding } from "./helpers/prerequisites.ts";
import { childEnv, freePort } from "./helpers/process.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README = new URL("../README.md", import.meta.url);
/** The comment that marks the block; the fence right after it is the script. */
const MARKER = "<!-- five-minute-path -->";
/** Longer than the path takes on a loaded machine, with its drain. */
const TIMEOUT_MS = 180_000;

/** The block of the README that follows {@linkcode MARKER}. */
function fiveMinutePath(readme: string): string {
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, `README has ${MARKER}`);
  const block = /^\s*```bash\n([\s\S]*?)\n```$/m.exec(readme.slice(at + MARKER.length));
  assert.ok(block, `a bash block follows ${MARKER}`);
  assert.equal(readme.indexOf(MARKER, at + 1), -1, "one five-minute path");
  return block[1];
}

testNeeding([CURL, JQ, OPENSSL], {
  name: "the README's five-minute path runs from top to bottom on a fresh store",
  // The script's own children (deno task, the server) are ended with its process group below.
  sanitizeResources: false,
  async fn() {
    const script = fiveMinutePath(await Deno.readTextFile(README));
    await using dir = await tempDir("auth-api-five-minutes-");
    for (const name of ["deno.json", "deno.lock", "src"]) {
      await Deno.symlink(`${ROOT}${name}`, `${dir.path}/${name}`);
    }
    await Deno.writeTextFile(`${dir.path}/five-minutes.sh`, script);
    const env = childEnv({ PORT: String(freePort()) });
    // The deno that runs the tests is the one the script's `deno task` finds first.
    env.PATH = `${dirname(Deno.execPath())}:${env.PATH ?? ""}`;
    // A process group of its own, so that whatever the script leaves running can be ended.
    const child = new Deno.Command("setsid", {
      args: ["bash", "-euo", "pipefail", "five-minutes.sh"],
      cwd: dir.path,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => endGroup(child.pid), TIMEOUT_MS);
    let output: Deno.CommandOutput;
    try {
      output = await child.output();
    } finally {
      clearTimeout(timer);
      endGroup(child.pid);
    }
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    const log = await Deno.readTextFile(`${dir.path}/server.log`).catch(() => "(no server.log)");
    const context = `stdout:\n${stdout}\nstderr:\n${stderr}\nserver.log:\n${log}`;
    assert.equal(output.code, 0, context);

    const lines = stdout.split("\n");
    const expected: (string | RegExp)[] = [
      `{"message":"Hello, user1! You're authenticated."}`,
      `{"token_type":"Bearer","expires_in":900,"scope":"hello"}`,
      `{"message":"Hello, client reporting! You're authenticated."}`,
      `{"active":true,"username":"user1","client_id":"auth-api","scope":"hello"}`,
      /^\{"sub":"[0-9a-f]{32}","preferred_username":"user1"\}$/,
      `{}`,
      `{"msg":"Successfully logged out"}`,
      `{"msg":"Token has been revoked"}`,
      "http://localhost:3000/",
    ];
    let from = 0;
    for (const line of expected) {
      const at = lines.findIndex((printed, index) =>
        index >= from && (typeof line === "string" ? printed === line : line.test(printed))
      );
      assert.ok(at >= 0, `"${line}" after line ${from} of the output: ${context}`);
      from = at + 1;
    }
    const callback = lines.find((line) => line.startsWith("http://localhost:3000/callback?"));
    assert.ok(callback, `the sign-in redirected to the app: ${context}`);
    const query = new URL(callback).searchParams;
    assert.match(query.get("code") ?? "", /^[\w-]{43}$/);
    assert.equal(query.get("state"), "xyz");
    assert.ok(lines.some((line) => line.startsWith("Open in a browser ")), context);
    assert.match(stderr, /curl: \(22\) The requested URL returned error: 401/);

    // The server the script started wrote the events of its steps, and then stopped.
    const events = log.split("\n").filter((line) => line.includes('"msg":"audit"'))
      .map((line) => JSON.parse(line).event);
    for (const event of ["login_succeeded", "token_refreshed", "token_revoked", "logout"]) {
      assert.ok(events.includes(event), `${event} in ${events}`);
    }
    assert.match(log, /"msg":"Stopped"/);
  },
});

/** Kills what is left of the process group `pgid` (the script's, started by setsid). */
function endGroup(pgid: number): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch {
    // Nothing left: the script stopped the server itself.
  }
}
