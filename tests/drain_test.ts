/**
 * @module
 * Stopping gracefully, with the server as a child process: SIGTERM turns readiness to 503 at once
 * and keeps serving for DRAIN_DELAY before exiting 0, a second SIGTERM joins the drain and
 * in-flight logins finish, `deno task serve` killed as a process group drains once, and SIGINT
 * stops at once.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bodyInTwoHalves } from "./helpers/held_body.ts";
import { parseLogLine, ServerProcess } from "./helpers/process.ts";
import { serveChild } from "./helpers/serve_child.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { sleep } from "./helpers/wait.ts";

/** The status of GET `url` over `client`, the body discarded. */
async function statusOf(client: Deno.HttpClient, url: string): Promise<number> {
  const res = await fetch(url, { client });
  await res.body?.cancel();
  return res.status;
}

Deno.test("SIGTERM turns readiness to 503 at once, keeps serving for DRAIN_DELAY, then exits 0", async () => {
  await using dir = await tempDir("auth-api-drain-");
  using client = Deno.createHttpClient({ caCerts: [(await testCertificate()).certPem] });
  {
    await using server = await serveChild(dir.path, { DRAIN_DELAY: "2" });
    const url = await server.listening();
    const status = (path: string) => statusOf(client, `${url}${path}`);
    assert.equal(await status("/health/ready"), 200);

    const stopped = server.stop("SIGTERM");
    // Readiness flips first; the listener keeps answering everything else meanwhile.
    const flipDeadline = Date.now() + 1500;
    while (await status("/health/ready") !== 503) {
      assert.ok(Date.now() < flipDeadline, "readiness did not flip to 503");
    }
    const answers: number[] = [];
    let refused = 0;
    while (true) {
      try {
        answers.push(await status("/hello"));
        answers.push(await status("/health/live"));
      } catch {
        refused++;
        break;
      }
    }
    const { code } = await stopped;
    assert.equal(code, 0, server.stderr);
    assert.ok(answers.length >= 4, `served ${answers.length} requests while draining`);
    assert.deepEqual(new Set(answers), new Set([401, 200]), "every request was answered");
    assert.equal(refused, 1, "only the request after the listener closed failed");
    const messages = server.lines.map(parseLogLine).map((line) => line?.msg);
    assert.ok(messages.indexOf("Draining") < messages.indexOf("Shutting down"), messages.join());
  }
});

/** The DRAIN_DELAY of the repeated-signal tests, in seconds. */
const DRAIN_SECONDS = 2;

/**
 * Sends the signals `send` delivers while a login is in flight, and checks that they make one
 * drain: `/health/ready` answers 503 (never a refused connection) for the whole DRAIN_DELAY, the
 * login gets its answer, and the process exits 0 once, after the delay.
 */
async function assertOneDrain(server: ServerProcess, send: () => Promise<void>): Promise<void> {
  using client = Deno.createHttpClient({ caCerts: [(await testCertificate()).certPem] });
  const url = await server.listening();
  const status = (path: string) => statusOf(client, `${url}${path}`);
  assert.equal(await status("/health/ready"), 200);
  const held = bodyInTwoHalves(JSON.stringify({ username: "nobody", password: "wrong-password" }));
  const inFlight = fetch(`${url}/login`, {
    method: "POST",
    client,
    headers: { "content-type": "application/json" },
    body: held.stream,
  });
  inFlight.catch(() => {}); // awaited below; reported there if the drain is cut short first
  await held.firstHalfSent;
  // Answered on the same HTTP/2 connection after the login began, so the login is in flight.
  assert.equal(await status("/hello"), 401);

  const signalled = performance.now();
  await send();
  const answers: number[] = [];
  while (performance.now() - signalled < DRAIN_SECONDS * 1000 - 500) {
    answers.push(await status("/health/ready"));
    await sleep(50);
  }
  assert.equal(answers.at(-1), 503, answers.join());
  assert.ok(answers.every((answer) => answer === 200 || answer === 503), answers.join());
  assert.ok(answers.indexOf(503) <= answers.lastIndexOf(200) + 1, "readiness never came back");
  held.sendRest();
  const res = await inFlight;
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { msg: "Invalid credentials" });

  const { code } = await server.exitedWithin(15_000);
  const elapsed = performance.now() - signalled;
  assert.equal(code, 0, server.stderr);
  assert.ok(elapsed >= DRAIN_SECONDS * 1000, `exited ${Math.round(elapsed)} ms after the signal`);
  const messages = server.lines.map(parseLogLine).map((line) => line?.msg);
  assert.equal(messages.filter((msg) => msg === "Draining").length, 1, messages.join());
  assert.equal(messages.filter((msg) => msg === "Stopped").length, 1, messages.join());
}

Deno.test("a second SIGTERM 0.2 s into the drain joins it: readiness keeps answering 503 and the in-flight login finishes", async () => {
  await using dir = await tempDir("auth-api-drain-");
  await using server = await serveChild(dir.path, { DRAIN_DELAY: String(DRAIN_SECONDS) });
  await assertOneDrain(server, async () => {
    server.signal("SIGTERM");
    await sleep(200);
    server.signal("SIGTERM");
  });
});

Deno.test("deno task serve, sent SIGTERM as a process group (systemd's KillMode=control-group), drains once", async () => {
  await using dir = await tempDir("auth-api-drain-task-");
  // A project checkout of its own: the task's relative certs/ and data/ are the test's.
  const root = fileURLToPath(new URL("..", import.meta.url));
  for (const name of ["deno.json", "deno.lock", "src"]) {
    await Deno.symlink(`${root}${name}`, `${dir.path}/${name}`);
  }
  await writeTlsFiles(dir.path);
  await using server = new ServerProcess(["serve", "--port", "0"], {
    cwd: dir.path,
    launcher: ["setsid", Deno.execPath(), "task"],
    env: { DRAIN_DELAY: String(DRAIN_SECONDS), LOG_LEVEL: "info" },
  });
  // `deno task` gets the signal and forwards it; the server gets it from the group as well.
  await assertOneDrain(server, () => Promise.resolve(server.signalGroup("SIGTERM")));
});

Deno.test("SIGINT during a drain stops at once, and repeated SIGINTs make one shutdown", async () => {
  await using dir = await tempDir("auth-api-drain-");
  await using server = await serveChild(dir.path, { DRAIN_DELAY: "30" });
  await server.listening();
  server.signal("SIGTERM");
  await server.waitForLog("Draining");
  const interrupted = performance.now();
  server.signal("SIGINT");
  server.signal("SIGINT");
  const { code } = await server.exitedWithin(10_000);
  const elapsed = performance.now() - interrupted;
  assert.equal(code, 0, server.stderr);
  assert.ok(elapsed < 5000, `exited ${Math.round(elapsed)} ms after SIGINT`);
  const messages = server.lines.map(parseLogLine).map((line) => line?.msg);
  assert.equal(messages.filter((msg) => msg === "Shutting down").length, 1, messages.join());
  assert.equal(messages.at(-1), "Stopped", messages.join());
});
