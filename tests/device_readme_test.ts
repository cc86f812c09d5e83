/**
 * @module
 * The device flow's curl example in src/auth/sign_in/README.md, run as written by bash against
 * the real server while a cookie-keeping browser enters the code it prints and approves.
 */
import assert from "node:assert/strict";
import * as device from "./helpers/device.ts";
import { CookieBrowser, PASSWORD } from "./helpers/oidc.ts";
import { CURL, JQ, testNeeding } from "./helpers/prerequisites.ts";
import { startTestServer } from "./helpers/server.ts";

const README = new URL("../src/auth/sign_in/README.md", import.meta.url);
const MARKER = "<!-- device flow with curl -->";

testNeeding([CURL, JQ], {
  name:
    "the README's curl device flow prints a code, polls while a browser approves, then calls /hello",
  async fn() {
    const readme = await Deno.readTextFile(README);
    const block = /^\s*```sh\n([\s\S]*?)```$/m.exec(readme.slice(readme.indexOf(MARKER)));
    assert.ok(readme.includes(MARKER) && block, "a sh block follows the marker");
    await using server = await startTestServer({ users: { alice: PASSWORD } });
    await device.registerDeviceClient(server, "tv");
    const ca = `${server.dir}/readme-ca.pem`;
    await Deno.writeTextFile(ca, server.certPem);
    const script = `set -eu\nC="curl -s --cacert ${ca}"\nU=${server.url}\n${block[1]}`;
    const child = new Deno.Command("bash", {
      args: ["-c", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const lines: string[] = [];
    let approved = false;
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const shown = /^Open (\S+) and enter ([A-Z]{4}-[A-Z]{4})$/.exec(line);
        if (shown && !approved) {
          assert.equal(shown[1], `${server.url}/device`);
          const answered = await device.answerDevice(new CookieBrowser(server), shown[2], {
            password: PASSWORD,
          });
          assert.equal(answered.status, 200, answered.html);
          approved = true;
        }
      }
    }
    if (rest !== "") lines.push(rest);
    const { code } = await child.status;
    assert.equal(code, 0, `${lines.join("\n")}\n${await stderr}`);
    assert.ok(approved, lines.join("\n"));
    assert.equal(lines.at(-1), JSON.stringify({ message: "Hello, alice! You're authenticated." }));
  },
});
