import assert from "node:assert/strict";
import { parseLogLine, ServeProcess } from "./helpers/process.ts";
import { testCertificate } from "./helpers/server.ts";

Deno.test("SIGTERM turns readiness to 503 at once, keeps serving for DRAIN_DELAY, then exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-drain-" });
  const { certPem, keyPem } = await testCertificate();
  await Deno.writeTextFile(`${dir}/cert.pem`, certPem);
  await Deno.writeTextFile(`${dir}/key.pem`, keyPem, { mode: 0o600 });
  const client = Deno.createHttpClient({ caCerts: [certPem] });
  try {
    await using server = new ServeProcess(["--port", "0"], {
      cwd: dir,
      env: {
        TLS_CERT: `${dir}/cert.pem`,
        TLS_KEY: `${dir}/key.pem`,
        DATABASE_URL: `sqlite:${dir}/data/auth.db`,
        DRAIN_DELAY: "2",
      },
    });
    const url = await server.listening();
    const status = async (path: string) => {
      const res = await fetch(`${url}${path}`, { client });
      await res.body?.cancel();
      return res.status;
    };
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
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
