import assert from "node:assert/strict";
import { SqliteStore } from "../src/store/sqlite.ts";
import { assertOneLineError, runCli } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { writeTlsFiles } from "./helpers/tls.ts";

Deno.test("serve --check validates everything, prints what it would serve with and exits 0", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    const result = await runCli(["serve", "--check", "--port", "9443"], {
      cwd: dir,
      env: {
        TLS_CERT: `${dir}/certs/cert.pem`,
        TLS_KEY: `${dir}/certs/key.pem`,
        DATABASE_URL: `sqlite:${dir}/data/auth.db`,
        METRICS_PORT: "9464",
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Configuration OK$/m);
    assert.match(result.stdout, /HTTPS\s+https:\/\/localhost:9443/);
    assert.match(result.stdout, /Metrics\s+http:\/\/127\.0\.0\.1:9464\/metrics/);
    assert.match(result.stdout, /Store\s+sqlite:.*answers; 0 user/);
    await assert.rejects(Deno.connect({ hostname: "localhost", port: 9443 }), "nothing listens");
  });
});

Deno.test("serve --check exits 1 with one line for a bad certificate, an unreachable store or a bad setting", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    const base = {
      TLS_CERT: `${dir}/certs/cert.pem`,
      TLS_KEY: `${dir}/certs/key.pem`,
      DATABASE_URL: `sqlite:${dir}/data/auth.db`,
    };
    const cases: [Record<string, string>, RegExp][] = [
      [{ TLS_CERT: `${dir}/certs/missing.pem` }, /missing\.pem/],
      [{ DATABASE_URL: "postgres://auth:secret-pw@127.0.0.1:1/auth" }, /127\.0\.0\.1:1/],
      [{ METRICS_PORT: "99999" }, /METRICS_PORT/],
    ];
    for (const [env, pattern] of cases) {
      const result = await runCli(["serve", "--check"], { cwd: dir, env: { ...base, ...env } });
      assert.equal(result.code, 1, JSON.stringify(env));
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], pattern);
      assert.ok(!result.stderr.includes("secret-pw") && !result.stdout.includes("secret-pw"));
    }
  });
});

Deno.test("serve --check exits 1 as serve would for a store with demo users, and passes on a warning about the store's modes", async () => {
  await withTempDir(async (dir) => {
    await writeTlsFiles(dir);
    const store = await SqliteStore.open(`${dir}/data/auth.db`);
    await store.addUser("user1", "$pbkdf2-sha256$i=600000$x$y", { demo: true });
    await store.close();
    const refused = await runCli(["serve", "--check"], { cwd: dir });
    assertOneLineError(
      refused,
      /^Error: The store holds demo users with public passwords \(user1\)/,
    );

    const removed = await runCli(["user", "remove", "user1"], { cwd: dir });
    assert.equal(removed.code, 0, removed.stderr);
    await Deno.chmod(`${dir}/data`, 0o755);
    const checked = await runCli(["serve", "--check"], { cwd: dir });
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /^Configuration OK$/m);
    assert.match(checked.stdout, /^ +Warning +.*other users could reach "data" 0755/m);
  });
});
