import assert from "node:assert/strict";
import { parseLogLine, ServerProcess } from "./helpers/process.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";

Deno.test("SIGTERM turns readiness to 503 at once, keeps serving for DRAIN_DELAY, then exits 0", async () => {
  await using dir = await tempDir("auth-api-drain-");
  const { certPath, keyPath } = await writeTlsFiles(dir.path);
  using client = Deno.createHttpClient({ caCerts: [(await testCertificate()).certPem] });
  {
    await using server = new ServerProcess(["serve", "--port", "0"], {
      cwd: dir.path,
      env: {
        TLS_CERT: certPath,
        TLS_KEY: keyPath,
        DATABASE_URL: `sqlite:${dir.path}/data/auth.db`,
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
  }
});
