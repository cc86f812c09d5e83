/**
 * @module
 * Renewing the TLS certificate without a restart, over real HTTPS: new connections get the new pair
 * while an in-flight request finishes on the old one, a bad pair is refused with one log line and
 * the old one kept, renewed files are picked up by the file watcher, SIGHUP and the watcher
 * together reload once, and without --unstable-net the server still starts and a reload closes the
 * old listener first.
 */
import assert from "node:assert/strict";
import { generateCertificate } from "../src/certs/generate.ts";
import { bodyInTwoHalves } from "./helpers/held_body.ts";
import { parseLogLine, PERMISSIONS } from "./helpers/process.ts";
import { serveChild } from "./helpers/serve_child.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { type PemPair, testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

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

/** Serves `pair` from now on: the files replaced, and the new pair checked to be in use. */
async function servedAfterAll(url: string, pair: PemPair): Promise<void> {
  await waitFor("the new pair to be served", () => servesCertificate(url, pair.certPem));
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
  const held = bodyInTwoHalves(JSON.stringify({ username: "u", password: "p" }));
  const inFlight = fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: held.stream,
  });
  await held.firstHalfSent;
  await new Promise((resolve) => setTimeout(resolve, 200)); // its first bytes have arrived
  await writeTlsFiles(server.dir, next);
  assert.equal(await server.running.reloadCertificate("test"), true);
  assert.ok(
    await servesCertificate(server.url, next.certPem),
    "a new connection gets the new pair",
  );
  assert.ok(!await servesCertificate(server.url, old.certPem));
  held.sendRest();
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
    await writeTlsFiles(server.dir, pair);
    assert.equal(await server.running.reloadCertificate("test"), false);
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
  await writeTlsFiles(server.dir, next);
  await servedAfterAll(server.url, next);
});

Deno.test("a renewal announced by SIGHUP and seen by the file watcher reloads the certificate once", async () => {
  await using dir = await tempDir("auth-api-sighup-");
  const next = await generateCertificate({ keyType: "ecdsa" });
  await using server = await serveChild(dir.path);
  const url = await server.listening();
  // Written elsewhere and moved in place, as an ACME client would, then announced by SIGHUP (the
  // README's certbot deploy hook), while the watcher sees the same files change.
  const certs = `${dir.path}/certs`;
  await Deno.writeTextFile(`${certs}/new-key.pem`, next.keyPem, { mode: 0o600 });
  await Deno.writeTextFile(`${certs}/new-cert.pem`, next.certPem);
  await Deno.rename(`${certs}/new-key.pem`, `${certs}/key.pem`);
  await Deno.rename(`${certs}/new-cert.pem`, `${certs}/cert.pem`);
  server.signal("SIGHUP");
  await servedAfterAll(url, next);
  const reloads = () =>
    server.lines.map(parseLogLine).filter((line) =>
      line?.msg === "Certificate reloaded" ||
      line?.msg === "Certificate unchanged; nothing to reload"
    );
  // Both announcements have been handled, whichever came first.
  await waitFor(
    () => `the SIGHUP and the file watcher to be handled: ${server.lines.join("\n")}`,
    () => reloads().length >= 2,
  );
  await sleep(1000); // room for a late third
  const handled = reloads().map((line) => `${line?.msg} (${line?.trigger})`);
  assert.equal(
    handled.filter((line) => line.startsWith("Certificate reloaded")).length,
    1,
    handled.join("\n"),
  );
  assert.deepEqual(handled.map((line) => / \((.*)\)$/.exec(line)?.[1]).toSorted(), [
    "SIGHUP",
    "file change",
  ]);
  // The files are read again, and the same pair stays served.
  assert.ok(await servesCertificate(url, next.certPem));
});

Deno.test("without --unstable-net the server still starts, and a reload closes the old listener first", async () => {
  await using dir = await tempDir("auth-api-gap-");
  const next = await generateCertificate({ keyType: "ecdsa" });
  await using server = await serveChild(dir.path, {}, {
    flags: PERMISSIONS.filter((flag) => flag !== "--unstable-net"),
  });
  const url = await server.listening();
  const listening = server.logs.find((line) => line.msg === "Listening");
  assert.equal(listening?.certificate_reload, "with_gap");
  await writeTlsFiles(dir.path, next);
  server.signal("SIGHUP");
  await servedAfterAll(url, next);
});
