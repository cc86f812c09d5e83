import assert from "node:assert/strict";
import { generateCertificate } from "../src/certs/generate.ts";
import { PERMISSIONS, ServeProcess } from "./helpers/process.ts";
import { startTestServer, testCertificate, type TestServer } from "./helpers/server.ts";

/** Whether a new connection that trusts only `certPem` gets an answer from `url`. */
async function servesCertificate(url: string, certPem: string): Promise<boolean> {
  const client = Deno.createHttpClient({ caCerts: [certPem] });
  try {
    const res = await fetch(`${url}/health/live`, { client });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function replaceFiles(dir: string, pair: { certPem: string; keyPem: string }) {
  await Deno.writeTextFile(`${dir}/key.pem`, pair.keyPem, { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/cert.pem`, pair.certPem);
}

async function pollUntil(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    assert.ok(Date.now() < deadline, `${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A JSON login body whose second half is sent only when `release` resolves. */
function heldBody(release: Promise<void>): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(JSON.stringify({ username: "u", password: "p" }));
  let step = 0;
  return new ReadableStream({
    async pull(controller) {
      if (step === 0) controller.enqueue(bytes.slice(0, 5));
      else if (step === 1) {
        await release;
        controller.enqueue(bytes.slice(5));
      } else controller.close();
      step++;
    },
  });
}

function reloadMode(server: TestServer): unknown {
  return server.logs.find((line) => line.msg === "Listening")?.certificate_reload;
}

Deno.test("reloadCertificate serves new connections with the new pair while an in-flight request finishes", async () => {
  await using server = await startTestServer();
  assert.equal(reloadMode(server), "seamless", "the test task runs with --unstable-net");
  const old = await testCertificate();
  const next = await generateCertificate({ keyType: "ecdsa" });
  assert.ok(await servesCertificate(server.url, old.certPem));
  assert.ok(!await servesCertificate(server.url, next.certPem));

  // The request travels on a connection the old listener accepted.
  await (await fetch(`${server.url}/health/live`, { client: server.client })).body?.cancel();
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const inFlight = fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: heldBody(released),
  });
  await new Promise((resolve) => setTimeout(resolve, 200)); // its first bytes have arrived
  await replaceFiles(server.dir, next);
  assert.equal(await server.running.reloadCertificate(), true);
  assert.ok(
    await servesCertificate(server.url, next.certPem),
    "a new connection gets the new pair",
  );
  assert.ok(!await servesCertificate(server.url, old.certPem));
  release();
  const res = await inFlight;
  assert.equal(res.status, 400, "the request begun before the reload was answered");
  assert.deepEqual(await res.json(), { msg: "Invalid credentials" });
});

Deno.test("reloadCertificate refuses a bad pair with one log line and keeps the old one", async () => {
  await using server = await startTestServer();
  const old = await testCertificate();
  const other = await generateCertificate({ keyType: "ecdsa" });
  const cases = [
    { certPem: "not a certificate", keyPem: old.keyPem },
    { certPem: other.certPem, keyPem: old.keyPem }, // key does not match
  ];
  for (const pair of cases) {
    await replaceFiles(server.dir, pair);
    assert.equal(await server.running.reloadCertificate(), false);
    assert.ok(await servesCertificate(server.url, old.certPem), "old pair still served");
  }
  const refusals = server.logs.filter((line) =>
    line.msg === "Certificate reload refused; the current certificate stays"
  );
  assert.ok(refusals.length >= 2, JSON.stringify(refusals));
  for (const line of refusals) assert.equal(line.level, "error");
});

Deno.test("the server picks up renewed certificate files by itself", async () => {
  await using server = await startTestServer();
  const next = await generateCertificate({ keyType: "ecdsa" });
  await replaceFiles(server.dir, next);
  await pollUntil(() => servesCertificate(server.url, next.certPem), "the new pair is served");
});

Deno.test("SIGHUP makes the serve command reload its certificate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-sighup-" });
  const old = await testCertificate();
  await replaceFiles(dir, old);
  const next = await generateCertificate({ keyType: "ecdsa" });
  try {
    await using server = new ServeProcess(["--port", "0"], {
      cwd: dir,
      env: {
        TLS_CERT: `${dir}/cert.pem`,
        TLS_KEY: `${dir}/key.pem`,
        DATABASE_URL: `sqlite:${dir}/data/auth.db`,
      },
    });
    const url = await server.listening();
    // Written elsewhere and moved in place, as an ACME client would, then announced by SIGHUP.
    await Deno.writeTextFile(`${dir}/new-key.pem`, next.keyPem, { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/new-cert.pem`, next.certPem);
    await Deno.rename(`${dir}/new-key.pem`, `${dir}/key.pem`);
    await Deno.rename(`${dir}/new-cert.pem`, `${dir}/cert.pem`);
    server.signal("SIGHUP");
    await pollUntil(() => servesCertificate(url, next.certPem), "the new pair is served");
    await server.waitForLog("Certificate reloaded");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without --unstable-net the server still starts, and a reload closes the old listener first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-gap-" });
  await replaceFiles(dir, await testCertificate());
  const next = await generateCertificate({ keyType: "ecdsa" });
  try {
    await using server = new ServeProcess(["--port", "0"], {
      cwd: dir,
      flags: PERMISSIONS.filter((flag) => flag !== "--unstable-net"),
      env: {
        TLS_CERT: `${dir}/cert.pem`,
        TLS_KEY: `${dir}/key.pem`,
        DATABASE_URL: `sqlite:${dir}/data/auth.db`,
      },
    });
    const url = await server.listening();
    const listening = server.logs.find((line) => line.msg === "Listening");
    assert.equal(listening?.certificate_reload, "with_gap");
    await replaceFiles(dir, next);
    server.signal("SIGHUP");
    await pollUntil(() => servesCertificate(url, next.certPem), "the new pair is served");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
