import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseLogLine, PERMISSIONS, ServeProcess } from "./helpers/process.ts";
import { startTestServer, testCertificate } from "./helpers/server.ts";

const USERS = { user1: "password1" };
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A JSON body sent in two halves, 500 ms apart. */
function slowBody(json: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(json);
  const half = Math.floor(bytes.length / 2);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === 0) {
        controller.enqueue(bytes.slice(0, half));
        sent = 1;
      } else if (sent === 1) {
        await sleep(500);
        controller.enqueue(bytes.slice(half));
        sent = 2;
      } else {
        controller.close();
      }
    },
  });
}

Deno.test("shutdown lets an in-flight login finish, then refuses connections and closes the store", async () => {
  await using server = await startTestServer({ users: USERS });
  const port = Number(new URL(server.url).port);

  const inFlight = fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: slowBody(JSON.stringify({ username: "user1", password: "password1" })),
  });
  await sleep(200); // the first half of the body has arrived; the rest comes 300 ms later
  const stopping = server.running.shutdown();

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

async function serveAndSignal(signal: Deno.Signal): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-shutdown-" });
  const { certPem, keyPem } = await testCertificate();
  await Deno.mkdir(`${dir}/certs`);
  await Deno.writeTextFile(`${dir}/certs/cert.pem`, certPem);
  await Deno.writeTextFile(`${dir}/certs/key.pem`, keyPem, { mode: 0o600 });
  try {
    await using server = new ServeProcess(["--port", "0"], {
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the serve command shuts down gracefully and exits 0 on SIGINT", async () => {
  await serveAndSignal("SIGINT");
});

Deno.test("the serve command shuts down gracefully and exits 0 on SIGTERM", async () => {
  await serveAndSignal("SIGTERM");
});
