import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bodyInTwoHalves } from "./helpers/held_body.ts";
import { parseLogLine, PERMISSIONS, ServerProcess } from "./helpers/process.ts";
import { startTestServer } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";

const USERS = { user1: "password1" };
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

Deno.test("shutdown lets an in-flight login finish, then refuses connections and closes the store", async () => {
  await using server = await startTestServer({ users: USERS });
  const port = Number(new URL(server.url).port);

  const slow = bodyInTwoHalves(JSON.stringify({ username: "user1", password: "password1" }));
  const inFlight = fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: slow.stream,
  });
  await slow.firstHalfSent;
  // The login is in flight once the server has answered a later request on the same (HTTP/2)
  // connection, since it takes a connection's requests in order.
  const later = await fetch(`${server.url}/hello`, { client: server.client });
  await later.body?.cancel();
  assert.equal(later.status, 401);
  const stopping = server.running.shutdown();
  slow.sendRest();

  const res = await inFlight;
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(typeof body.access_token, "string");
  await stopping;

  const messages = server.logs.map((line) => line.msg);
  const shuttingDown = messages.indexOf("Shutting down");
  const stopped = messages.indexOf("Stopped");
  const login = server.logs.findIndex((line) => line.msg === "request" && line.path === "/login");
  assert.ok(shuttingDown >= 0 && shuttingDown < login && login < stopped, messages.join(", "));
  assert.equal(server.logs[login].status, 200);
  assert.equal(server.logs[stopped].drained, true);

  await assert.rejects(
    Deno.connect({ hostname: "localhost", port }),
    Deno.errors.ConnectionRefused,
  );
  const fresh = Deno.createHttpClient({ caCerts: [server.certPem] });
  try {
    await assert.rejects(fetch(`${server.url}/hello`, { client: fresh }), TypeError);
  } finally {
    fresh.close();
  }
  await assert.rejects(async () => await server.store.getUser("user1"));
});

function serveAndSignal(signal: Deno.Signal): Promise<void> {
  return withTempDir(async (dir) => {
    const { certPem } = await testCertificate();
    // The default layout (certs/, data/ in the working directory) the serve task may read.
    await writeTlsFiles(dir);
    await using server = new ServerProcess(["serve", "--port", "0"], {
      cwd: dir,
      flags: ["--config", CONFIG, ...PERMISSIONS],
      env: { LOG_LEVEL: "info" },
    });
    const url = await server.listening(20_000);
    assert.match(url, /^https:\/\/localhost:\d+$/);
    const client = Deno.createHttpClient({ caCerts: [certPem] });
    try {
      const res = await fetch(`${url}/hello`, { client });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    } finally {
      client.close();
    }

    const { code } = await server.stop(signal);
    assert.equal(code, 0, server.stderr);
    const messages = server.lines.map(parseLogLine).map((line) => line?.msg);
    assert.ok(messages.includes("Shutting down"), server.lines.join("\n"));
    assert.ok(messages.includes("Stopped"), server.lines.join("\n"));
    assert.ok(messages.indexOf("Shutting down") < messages.indexOf("Stopped"));
    await assert.rejects(Deno.connect({ hostname: "localhost", port: Number(new URL(url).port) }));
  });
}

Deno.test("the serve command shuts down gracefully and exits 0 on SIGINT", async () => {
  await serveAndSignal("SIGINT");
});

Deno.test("the serve command shuts down gracefully and exits 0 on SIGTERM", async () => {
  await serveAndSignal("SIGTERM");
});
