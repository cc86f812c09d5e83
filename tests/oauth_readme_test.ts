/**
 * @module
 * The OAuth 2.0 curl example of src/handlers/README.md, run as written by bash from top to
 * bottom, with the variables the README says it assumes (`C`, `U`, `RS_SECRET`), against the real
 * server started as the README's five-minute path starts it (user1, a resource server allowed to
 * introspect). The `deno task clients add` line runs in a checkout of its own (the project's
 * deno.json, deno.lock and src/ linked into the server's directory), on the server's store.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CURL, JQ, testNeeding } from "./helpers/prerequisites.ts";
import { childEnv, runProgram } from "./helpers/process.ts";
import { startTestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README = new URL("../src/handlers/README.md", import.meta.url);
/** The comment that marks the block; the fence right after it is the script. */
const MARKER = "<!-- oauth 2.0 with curl -->";

/** The block of the README that follows {@linkcode MARKER}. */
function oauthBlock(readme: string): string {
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, `src/handlers/README.md has ${MARKER}`);
  const block = /^\s*```sh\n([\s\S]*?)\n```$/m.exec(readme.slice(at + MARKER.length));
  assert.ok(block, `a sh block follows ${MARKER}`);
  return block[1];
}

testNeeding([CURL, JQ], {
  name: "the OAuth 2.0 example of src/handlers/README.md runs in order from top to bottom",
  async fn() {
    const block = oauthBlock(await Deno.readTextFile(README));
    await using dir = await tempDir("auth-api-oauth-readme-");
    for (const name of ["deno.json", "deno.lock", "src"]) {
      await Deno.symlink(`${ROOT}${name}`, `${dir.path}/${name}`);
    }
    const rsSecret = Array.from(
      crypto.getRandomValues(new Uint8Array(32)),
      (byte) => byte.toString(16).padStart(2, "0"),
    ).join("");
    // Its certificate is certs/cert.pem and its store data/auth.db in dir.path, where the
    // README's commands look for them.
    await using server = await startTestServer({
      dir: dir.path,
      users: { user1: "password1" },
      env: {
        OAUTH_CLIENTS: `resource-server:${rsSecret}`,
        OAUTH_INTROSPECTORS: "resource-server",
      },
    });
    // Any refused request stops the script: --fail-with-body with `set -e`. One answer a line.
    const script = [
      "set -euo pipefail",
      `C="curl -sS --fail-with-body -w \\n --cacert certs/cert.pem"`,
      `U=${server.url}`,
      `RS_SECRET=${rsSecret}`,
      block,
      // The revoked refresh token no longer refreshes.
      `echo "after revoke: $(curl -s -o /dev/null -w '%{http_code}' --cacert certs/cert.pem $U/oauth/token -d grant_type=refresh_token -d "refresh_token=$REFRESH")"`,
    ].join("\n");
    const env = childEnv();
    // The deno that runs the tests is the one the script's `deno task` finds first.
    env.PATH = `${dirname(Deno.execPath())}:${env.PATH ?? ""}`;
    const ran = await runProgram("bash", ["-c", script], { cwd: dir.path, env });
    const context = `stdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`;
    assert.equal(ran.code, 0, context);

    const answers = ran.stdout.trimEnd().split("\n");
    assert.equal(answers.at(-1), "after revoke: 400", context);
    const json = answers.slice(0, -1).map((line) => JSON.parse(line));
    assert.equal(json.length, 5, context);
    const [introspected, revoked, granted, metadata, jwks] = json;
    assert.equal(introspected.active, true, context);
    assert.equal(introspected.username, "user1");
    assert.equal(introspected.client_id, "auth-api");
    assert.equal(introspected.scope, "hello");
    assert.deepEqual(revoked, {}, context);
    assert.equal(granted.token_type, "Bearer", context);
    assert.equal(granted.scope, "hello");
    assert.equal(typeof granted.access_token, "string");
    assert.equal(granted.refresh_token, undefined, "no refresh token for a client's own token");
    assert.equal(metadata.token_endpoint, `${server.config.issuer}/oauth/token`, context);
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length > 0, context);

    const hello = await fetch(`${server.url}/hello`, {
      client: server.client,
      headers: { authorization: `Bearer ${granted.access_token}` },
    });
    assert.deepEqual(await hello.json(), {
      message: "Hello, client reporting! You're authenticated.",
    });
    const events = server.logs.filter((line) => line.msg === "audit").map((line) => line.event);
    for (const event of ["login_succeeded", "token_refreshed", "token_revoked"]) {
      assert.ok(events.includes(event), `${event} in ${events}`);
    }
  },
});
