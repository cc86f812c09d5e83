/**
 * @module
 * The command-line client (`src/client.ts`): a password goes over https:// anywhere but over
 * http:// only to loopback, checked before any request; an empty password from stdin or
 * API_PASSWORD is refused with one line; and backspace at the hidden prompt erases a whole UTF-8
 * character.
 */
import assert from "node:assert/strict";
import { eraseLastCharacter } from "../src/terminal.ts";
import { checkBaseUrl, ClientError, runClient } from "../src/client.ts";
import { assertOneLineError, CLIENT, runCli } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { writeTlsFiles } from "./helpers/tls.ts";

Deno.test("checkBaseUrl allows https:// anywhere and http:// only to loopback", () => {
  for (
    const url of [
      "https://auth.example.com",
      "https://10.0.0.1:8443",
      "http://localhost:8080",
      "http://127.0.0.1:8080",
      "http://127.1.2.3",
      "http://[::1]:8080",
    ]
  ) {
    checkBaseUrl(url);
  }
  for (
    const url of [
      "http://auth.example.com",
      "http://10.0.0.1:8080",
      "http://127.0.0.1.evil.example",
      "http://localhost.evil.example",
      "http://[::ffff:10.0.0.1]",
      "ftp://localhost",
      "not a url",
    ]
  ) {
    assert.throws(() => checkBaseUrl(url), ClientError, url);
  }
});

Deno.test("runClient refuses to send a password over http:// to another machine, before any request", async () => {
  let requests = 0;
  const originalFetch = globalThis.fetch;
  globalThis.fetch = (...args: Parameters<typeof fetch>) => {
    requests++;
    return originalFetch(...args);
  };
  try {
    await assert.rejects(
      runClient({ baseUrl: "http://auth.example.com", username: "u", password: "p" }),
      /Refusing to send a password to "http:\/\/auth\.example\.com": use https:\/\//,
    );
  } finally {
    globalThis.fetch = originalFetch;
  }
  assert.equal(requests, 0);
});

Deno.test("runClient logs in over plain http:// to loopback", async () => {
  const seen: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      seen.push(path);
      if (path === "/login") {
        const body = await req.json();
        return Response.json(
          body.password === "secret password"
            ? { access_token: "token-1" }
            : { msg: "Invalid credentials" },
          { status: body.password === "secret password" ? 200 : 400 },
        );
      }
      const ok = req.headers.get("authorization") === "Bearer token-1";
      return Response.json(ok ? { message: "Hello, u!" } : { msg: "no" }, {
        status: ok ? 200 : 401,
      });
    },
  );
  const greeting = await runClient({
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    username: "u",
    password: "secret password",
  });
  assert.deepEqual(greeting, { message: "Hello, u!" });
  assert.deepEqual(seen, ["/login", "/hello"]);
});

Deno.test("the client command refuses http:// to another host and --password with one line, reading nothing", async () => {
  await withTempDir(async (dir) => {
    const remote = await runCli(["--url", "http://auth.example.com"], {
      cwd: dir,
      script: CLIENT,
      stdin: "password1\n",
    });
    assertOneLineError(
      remote,
      /^Error: Refusing to send a password to "http:\/\/auth\.example\.com"/,
    );
    const flag = await runCli(["--password", "password1"], { cwd: dir, script: CLIENT });
    assertOneLineError(flag, /^Error: --password is not accepted/);
    assert.ok(!flag.stderr.includes("password1"), "the password is not echoed");
  });
});

Deno.test("the client command refuses an empty password from stdin or API_PASSWORD with one line, sending nothing", async () => {
  let requests = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    return Response.json({ msg: "Invalid credentials" }, { status: 400 });
  });
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    const args = ["--url", `http://127.0.0.1:${server.addr.port}`, "--ca", "certs/cert.pem"];
    // deno task client </dev/null, and an empty first line.
    for (const stdin of [undefined, "", "\n", "\r\n"]) {
      assertOneLineError(
        await runCli(args, { cwd: dir, script: CLIENT, stdin }),
        /^Error: The password is empty: the first line of stdin is empty or missing; pipe the password in, set API_PASSWORD, or run on a terminal to be asked$/,
      );
    }
    assertOneLineError(
      await runCli(args, { cwd: dir, script: CLIENT, env: { API_PASSWORD: "" } }),
      /^Error: API_PASSWORD is empty; set it to the password, or unset it to be asked$/,
    );
  });
  assert.equal(requests, 0, "no login was attempted");
});

/** What the hidden prompt keeps after `typed`, where "\x7f" is the backspace key. */
function typeAtPrompt(typed: string): string {
  const bytes: number[] = [];
  for (const part of typed.split(/(\x7f)/)) {
    if (part === "\x7f") eraseLastCharacter(bytes);
    else bytes.push(...new TextEncoder().encode(part));
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
}

Deno.test("backspace at the hidden prompt erases a whole character of one to four UTF-8 bytes", () => {
  assert.equal(typeAtPrompt("abc\x7f"), "ab");
  assert.equal(typeAtPrompt("pässwörd\x7f"), "pässwör");
  assert.equal(typeAtPrompt("passwö\x7f"), "passw");
  assert.equal(typeAtPrompt("密码\x7f"), "密");
  assert.equal(typeAtPrompt("pw🦕\x7f"), "pw");
  assert.equal(typeAtPrompt("🦕🦕\x7f\x7f"), "");
  assert.equal(typeAtPrompt("é\x7f\x7f\x7f"), "", "backspace on nothing is harmless");
  assert.equal(typeAtPrompt("aé\x7fb"), "ab");
});
