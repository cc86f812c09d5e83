import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { unixNow } from "../src/clock.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { type CliResult, runCli, ServeProcess } from "./helpers/process.ts";
import { testCertificate } from "./helpers/server.ts";

/** Keys are re-read every second; the bound allows for the poll step and a slow machine. */
const KEY_SYNC_BOUND_MS = 1500;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-keys-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertOneLineError(result: CliResult, pattern: RegExp): void {
  assert.equal(result.code, 1, result.stderr);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], pattern);
}

async function storedKeys(dir: string) {
  const store = await SqliteStore.open(join(dir, "data/auth.db"));
  try {
    return await store.listSigningKeys(0);
  } finally {
    await store.close();
  }
}

Deno.test("keys rotate retires the previous key after ACCESS_TOKEN_TTL + JWT_LEEWAY as the CLI's environment sets them", async () => {
  await withTempDir(async (dir) => {
    assert.equal((await runCli(["keys", "rotate"], { cwd: dir })).code, 0);
    for (
      const [env, lifetime] of [
        [{ ACCESS_TOKEN_TTL: "100", JWT_LEEWAY: "7" }, 107],
        [{ ACCESS_TOKEN_TTL: "3600" }, 3630],
        [{}, 930],
      ] as const
    ) {
      const before = unixNow();
      const rotated = await runCli(["keys", "rotate"], { cwd: dir, env });
      const after = unixNow();
      assert.equal(rotated.code, 0, rotated.stderr);
      const [current, previous] = await storedKeys(dir);
      assert.equal(current.retiresAt, null);
      assert.ok(previous.retiresAt !== null);
      assert.ok(
        previous.retiresAt >= before + lifetime && previous.retiresAt <= after + lifetime,
        `${JSON.stringify(env)}: retires ${previous.retiresAt - before} s after the rotation`,
      );
      assert.ok(rotated.stdout.includes(new Date(previous.retiresAt * 1000).toISOString()));
    }
  });
});

Deno.test("keys revoke refuses a missing or unknown kid and JWT_SECRET mode with one line", async () => {
  await withTempDir(async (dir) => {
    assertOneLineError(await runCli(["keys", "revoke"], { cwd: dir }), /Usage: .*keys revoke KID/);
    assertOneLineError(await runCli(["keys", "revoke", "a", "b"], { cwd: dir }), /Usage/);
    assertOneLineError(
      await runCli(["keys", "revoke", "no-such-kid"], { cwd: dir }),
      /No signing key "no-such-kid"/,
    );
    assertOneLineError(
      await runCli(["keys", "revoke", "x"], { cwd: dir, env: { JWT_SECRET: "s".repeat(32) } }),
      /JWT_SECRET is set/,
    );
  });
});

Deno.test("keys revoke of the current key: the running server refuses its tokens within the key sync bound and signs with a replacement", async () => {
  await withTempDir(async (dir) => {
    const { certPem, keyPem } = await testCertificate();
    await Deno.mkdir(join(dir, "certs"));
    await Deno.writeTextFile(join(dir, "certs/cert.pem"), certPem);
    await Deno.writeTextFile(join(dir, "certs/key.pem"), keyPem, { mode: 0o600 });
    const added = await runCli(["user", "add", "alice"], { cwd: dir, stdin: "alice password 1\n" });
    assert.equal(added.code, 0, added.stderr);
    await using server = new ServeProcess(["--port", "0"], {
      cwd: dir,
      env: { LOG_LEVEL: "info" },
    });
    const url = await server.listening();
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    const login = async () => {
      const res = await fetch(`${url}/login`, {
        method: "POST",
        client,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: "alice password 1" }),
      });
      assert.equal(res.status, 200);
      return (await res.json()).access_token as string;
    };
    const hello = async (token: string) => {
      const res = await fetch(`${url}/hello`, {
        client,
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: res.status, body: await res.json() };
    };
    const jwksKids = async () => {
      const res = await fetch(`${url}/.well-known/jwks.json`, { client });
      return ((await res.json()).keys as { kid: string }[]).map((key) => key.kid);
    };

    const leaked = await login();
    const kid = decodeProtectedHeader(leaked).kid as string;
    assert.equal((await hello(leaked)).status, 200, "verified and cached");

    const revoked = await runCli(["keys", "revoke", kid], { cwd: dir });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^Revoked signing key "${kid}"`));
    const replacement = /New signing key "([^"]+)"/.exec(revoked.stdout)?.[1];
    assert.ok(replacement && replacement !== kid, revoked.stdout);

    const started = performance.now();
    while ((await hello(leaked)).status !== 401) {
      assert.ok(performance.now() - started < KEY_SYNC_BOUND_MS + 3000, "never refused");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const elapsed = Math.round(performance.now() - started);
    console.log(`The revoked key's token was refused after ${elapsed} ms`);
    const refused = await hello(leaked);
    assert.deepEqual(refused, { status: 401, body: { msg: "Unknown signing key" } });
    assert.deepEqual(await jwksKids(), [replacement]);

    const fresh = await login();
    assert.equal(decodeProtectedHeader(fresh).kid, replacement);
    assert.equal((await hello(fresh)).status, 200);
    assert.deepEqual((await storedKeys(dir)).map((key) => [key.kid, key.retiresAt]), [
      [replacement, null],
    ]);
    assert.ok(
      server.logs.every((line) => (line.status as number ?? 0) < 500 && line.level !== "error"),
    );
  });
});
