/**
 * @module
 * The tutorial's fetch client signing in as a device (`--device`, RFC 8628): end to end against
 * the real server while a browser approves or denies, its polling (the interval, `slow_down`)
 * against a scripted token endpoint, and its command line.
 */
import assert from "node:assert/strict";
import { runDeviceClient } from "../src/client.ts";
import { waitFor } from "./helpers/wait.ts";
import * as device from "./helpers/device.ts";
import { CookieBrowser, PASSWORD } from "./helpers/oidc.ts";
import { assertOneLineError, CLIENT, runCli, ServerProcess } from "./helpers/process.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

async function setUp(): Promise<{ server: TestServer; ca: string }> {
  const server = await startTestServer({ users: { alice: PASSWORD } });
  await device.registerDeviceClient(server, "tv");
  const ca = `${server.dir}/device-client-ca.pem`;
  await Deno.writeTextFile(ca, server.certPem);
  return { server, ca };
}

/** Starts `deno task client --device` and waits for the code it shows. */
async function startDeviceClient(
  server: TestServer,
  ca: string,
): Promise<{ child: ServerProcess; userCode: string; url: string }> {
  const child = new ServerProcess(
    ["--device", "--client-id", "tv", "--url", server.url, "--ca", ca],
    { script: CLIENT, name: "client" },
  );
  const shown = await waitFor(
    () => `the code on stdout: ${child.lines.join("\n")} ${child.stderr}`,
    () => {
      for (const line of child.lines) {
        const match = /^To sign in, open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})$/.exec(line);
        if (match) return match;
      }
    },
    { timeoutMs: 20_000 },
  );
  return { child, url: shown[1], userCode: shown[2] };
}

Deno.test("client --device shows a code, waits while a browser approves, then calls /hello", async () => {
  const { server, ca } = await setUp();
  await using _server = server;
  const { child, url, userCode } = await startDeviceClient(server, ca);
  await using _child = child;
  assert.equal(url, `${server.url}/device`);
  const answered = await device.answerDevice(new CookieBrowser(server), userCode, {
    password: PASSWORD,
  });
  assert.equal(answered.status, 200, answered.html);
  const status = await child.exitedWithin(30_000);
  assert.equal(status.code, 0, child.stderr);
  assert.equal(
    child.lines.at(-1),
    JSON.stringify({ message: "Hello, alice! You're authenticated." }),
  );
  assert.equal(child.stderr, "");
});

Deno.test("client --device reports a denial as one line and exits 1", async () => {
  const { server, ca } = await setUp();
  await using _server = server;
  const { child, userCode } = await startDeviceClient(server, ca);
  await using _child = child;
  await device.answerDevice(new CookieBrowser(server), userCode, {
    password: PASSWORD,
    decision: "deny",
  });
  const status = await child.exitedWithin(30_000);
  assert.equal(status.code, 1);
  assert.equal(child.stderr.trim(), "Error: The sign-in was denied in the browser");
});

Deno.test("runDeviceClient polls at the interval asked for and 5 s slower after each slow_down", async () => {
  const answers = [
    { error: "authorization_pending" },
    { error: "slow_down" },
    { error: "authorization_pending" },
    { error: "slow_down" },
    { access_token: "token-1", token_type: "Bearer" },
  ];
  const polls: URLSearchParams[] = [];
  await using fake = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/oauth/device_authorization") {
      const form = new URLSearchParams(await req.text());
      assert.equal(form.get("client_id"), "tv");
      assert.equal(form.get("scope"), "hello");
      return Response.json({
        device_code: "device-1",
        user_code: "BCDF-GHJK",
        verification_uri: "http://127.0.0.1/device",
        expires_in: 600,
        interval: 2,
      });
    }
    if (path === "/oauth/token") {
      polls.push(new URLSearchParams(await req.text()));
      const answer = answers.shift()!;
      return Response.json(answer, { status: "error" in answer ? 400 : 200 });
    }
    assert.equal(req.headers.get("authorization"), "Bearer token-1");
    return Response.json({ message: "Hello, alice! You're authenticated." });
  });
  const waits: number[] = [];
  const lines: string[] = [];
  const greeting = await runDeviceClient({
    baseUrl: `http://127.0.0.1:${fake.addr.port}`,
    clientId: "tv",
    report: (line) => lines.push(line),
    sleep: (seconds) => {
      waits.push(seconds);
      return Promise.resolve();
    },
  });
  assert.deepEqual(greeting, { message: "Hello, alice! You're authenticated." });
  assert.deepEqual(waits, [2, 2, 7, 7, 12]);
  assert.equal(polls.length, 5);
  for (const poll of polls) {
    assert.equal(poll.get("grant_type"), device.DEVICE_CODE_GRANT);
    assert.equal(poll.get("device_code"), "device-1");
    assert.equal(poll.get("client_id"), "tv");
  }
  assert.equal(lines[0], "To sign in, open http://127.0.0.1/device and enter the code BCDF-GHJK");
});

Deno.test("client --device answers an unusable client and a bad command line with one line", async () => {
  const { server, ca } = await setUp();
  await using _server = server;
  const run = (args: string[]) =>
    runCli(["--url", server.url, "--ca", ca, ...args], { script: CLIENT });
  assertOneLineError(await run(["--device"]), /--device needs --client-id/);
  assertOneLineError(await run(["--client-id", "tv"]), /--client-id and --scope go with --device/);
  for (const extra of [["--user", "alice"], ["--refresh"], ["--logout"]]) {
    assertOneLineError(
      await run(["--device", "--client-id", "tv", ...extra]),
      /--user, --refresh and --logout do not go with --device/,
    );
  }
  assertOneLineError(
    await run(["--device", "--client-id", "nobody"]),
    /Failed to start the device sign-in: 40\d (invalid_client|unauthorized_client)/,
  );
  assertOneLineError(
    await run(["--device", "--client-id", "tv", "--scope", "admin"]),
    /Failed to start the device sign-in: 400 invalid_scope/,
  );
});
