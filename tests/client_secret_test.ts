/**
 * @module
 * Client secrets as real clients send them: `curl -u` over verified HTTPS with a secret holding
 * `+`, `/` and `=` authenticates both as sent and form-encoded (RFC 6749 §2.3.1), while a wrong,
 * spaced or doubly encoded secret gets 401 `invalid_client`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CURL, testNeeding } from "./helpers/prerequisites.ts";
import { runProgram } from "./helpers/process.ts";
import { login, startTestServer, subjectOf, type TestServer } from "./helpers/server.ts";

/** A client secret such as `openssl rand -base64 24` makes: it holds `+`, `/` and `=`. */
const SECRET = "q7+Zb/0Fh9Lx+Yt/3Wc=Pn8Ru+Kd/Vs2Jm==";

/** RFC 6749 §2.3.1 (application/x-www-form-urlencoded) encoding of one value. */
function formEncode(text: string): string {
  return new URLSearchParams({ v: text }).toString().slice(2);
}

/** POSTs a form with `curl -u USER:PASSWORD` over verified HTTPS; returns status and JSON body. */
async function curlBasic(
  server: TestServer,
  path: string,
  userPassword: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const cert = join(server.dir, "curl-cert.pem");
  await Deno.writeTextFile(cert, server.certPem);
  const args = ["-sS", "--cacert", cert, "-u", userPassword, "-w", "\n%{http_code}"];
  for (const [name, value] of Object.entries(form)) {
    args.push("--data-urlencode", `${name}=${value}`);
  }
  const { code, stdout, stderr } = await runProgram("curl", [...args, `${server.url}${path}`]);
  assert.equal(code, 0, stderr);
  const newline = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(newline + 1)), body: JSON.parse(stdout.slice(0, newline)) };
}

testNeeding(
  [CURL],
  "curl -u with a client secret holding + / and = authenticates, as sent and form-encoded",
  async () => {
    await using server = await startTestServer({
      users: { user1: "password1" },
      // rs introspects a token of another client (the first-party one), so it must be allowed to.
      env: { OAUTH_CLIENTS: `rs:${SECRET}`, OAUTH_INTROSPECTORS: "rs" },
    });
    const { body: tokens } = await login(server, "user1", "password1");
    const token = tokens.access_token as string;

    for (const presented of [SECRET, formEncode(SECRET)]) {
      const { status, body } = await curlBasic(server, "/oauth/introspect", `rs:${presented}`, {
        token,
      });
      assert.equal(status, 200, `${presented}: ${JSON.stringify(body)}`);
      assert.equal(body.active, true);
      assert.equal(body.sub, await subjectOf(server, "user1"));

      const granted = await curlBasic(server, "/oauth/token", `rs:${presented}`, {
        grant_type: "password",
        username: "user1",
        password: "password1",
      });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      assert.equal(granted.body.token_type, "Bearer");
    }
  },
);

testNeeding(
  [CURL],
  "curl -u with a wrong, spaced or doubly encoded client secret gets 401 invalid_client",
  async () => {
    await using server = await startTestServer({
      users: { user1: "password1" },
      env: { OAUTH_CLIENTS: `rs:${SECRET}` },
    });
    const wrong = [
      SECRET.slice(0, -1),
      SECRET.replaceAll("+", " "), // what form-decoding the raw secret gives: not the secret
      formEncode(formEncode(SECRET)), // decoded once only
      `${SECRET}x`,
    ];
    for (const presented of wrong) {
      const { status, body } = await curlBasic(server, "/oauth/introspect", `rs:${presented}`, {
        token: "x",
      });
      assert.equal(status, 401, presented);
      assert.equal(body.error, "invalid_client");
    }
  },
);
