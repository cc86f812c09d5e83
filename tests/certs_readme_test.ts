/**
 * @module
 * The certificate commands of src/cli/README.md ("Certificates"), run as written by bash in a
 * checkout of their own (the project's deno.json, deno.lock and src/ linked into a temporary
 * directory): the fenced `deno task certs` line, then `deno task certs --dir certs/api` and the
 * TLS_CERT and TLS_KEY it says to set, which `serve --check` then accepts. What they write stays
 * in that directory, so no other test can come to depend on it.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { childEnv, runProgram } from "./helpers/process.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README = new URL("../src/cli/README.md", import.meta.url);

/** The section's fenced command, and its `--dir` command with the settings that go with it. */
function certificateCommands(readme: string): { block: string; dir: string; settings: string } {
  const section = readme.slice(readme.indexOf("\n## Certificates\n"));
  assert.ok(section.length < readme.length, "src/cli/README.md has a Certificates section");
  const block = /^```sh\n([\s\S]*?)\n```$/m.exec(section);
  assert.ok(block, "a sh block in Certificates");
  const inline = /`(deno task certs --dir [^`]+)`, then\s+`(TLS_CERT=\S+ TLS_KEY=[^`\s]+)`/.exec(
    section,
  );
  assert.ok(inline, "Certificates shows deno task certs --dir and the settings it needs");
  return { block: block[1], dir: inline[1], settings: inline[2] };
}

Deno.test("the Certificates commands of src/cli/README.md run as written, and serve --check accepts what --dir wrote", async () => {
  const { block, dir, settings } = certificateCommands(await Deno.readTextFile(README));
  await using checkout = await tempDir("auth-api-certs-readme-");
  for (const name of ["deno.json", "deno.lock", "src"]) {
    await Deno.symlink(`${ROOT}${name}`, `${checkout.path}/${name}`);
  }
  const script = [
    "set -euo pipefail",
    block,
    dir,
    // serve --check wants a store with a user in it.
    "printf '%s\\n' 'long enough password' | deno task -q user add alice",
    `${settings} deno task -q serve --check`,
  ].join("\n");
  const env = childEnv();
  // The deno that runs the tests is the one the script's `deno task` finds first.
  env.PATH = `${dirname(Deno.execPath())}:${env.PATH ?? ""}`;
  const ran = await runProgram("bash", ["-c", script], { cwd: checkout.path, env });
  const context = `stdout:\n${ran.stdout}\nstderr:\n${ran.stderr}`;
  assert.equal(ran.code, 0, context);
  assert.match(ran.stdout, /^Wrote certs\/cert\.pem \(.*30 days\)$/m, context);
  assert.match(ran.stdout, /^Wrote certs\/api\/cert\.pem /m, context);
  assert.match(
    ran.stdout,
    /^ {2}TLS +certs\/api\/cert\.pem, certs\/api\/key\.pem \(valid, key matches\)$/m,
    context,
  );
  const [certPath, keyPath] = settings.split(" ").map((pair) => pair.split("=")[1]);
  for (const path of [certPath, keyPath]) {
    assert.ok((await Deno.stat(`${checkout.path}/${path}`)).isFile, path);
  }
});
