/**
 * @module
 * `keys rotate`, `keys revoke` and `keys list` from the command line against a running server: the
 * previous key retires after ACCESS_TOKEN_TTL + JWT_LEEWAY, a revoked current key's tokens are
 * refused within the key sync bound and a replacement of the right algorithm signs from then on,
 * bad kids and JWT_SECRET mode get one-line errors, and the ID-token key cannot be revoked this
 * way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { IdTokenKeys } from "../src/auth/sign_in/id_tokens.ts";
import { unixNow } from "../src/clock.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { assertOneLineError, assertUsageError, runCli, ServerProcess } from "./helpers/process.ts";
import { hello, jwksKids, login } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { waitFor } from "./helpers/wait.ts";

/** Keys are re-read every second; the bound allows for the poll step and a slow machine. */
const KEY_SYNC_BOUND_MS = 1500;

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
    assert.equal(
      assertUsageError(await runCli(["keys", "revoke"], { cwd: dir }), /Missing KID/),
      "Usage: deno task keys revoke KID (--help for more)",
    );
    assertUsageError(
      await runCli(["keys", "revoke", "a", "b"], { cwd: dir }),
      /Unexpected argument "b"/,
    );
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
    const { certPem } = await testCertificate();
    await writeTlsFiles(dir);
    const added = await runCli(["user", "add", "alice"], { cwd: dir, stdin: "alice password 1\n" });
    assert.equal(added.code, 0, added.stderr);
    await using server = new ServerProcess(["serve", "--port", "0"], {
      cwd: dir,
      env: { LOG_LEVEL: "info" },
    });
    using client = Deno.createHttpClient({ caCerts: [certPem] });
    const endpoint = { url: await server.listening(), client };
    const accessToken = async () => {
      const { res, body } = await login(endpoint, "alice", "alice password 1");
      assert.equal(res.status, 200);
      return body.access_token as string;
    };
    const helloWith = async (token: string) => {
      const { res, body } = await hello(endpoint, `Bearer ${token}`);
      return { status: res.status, body };
    };

    const leaked = await accessToken();
    const kid = decodeProtectedHeader(leaked).kid as string;
    assert.equal((await helloWith(leaked)).status, 200, "verified and cached");

    const revoked = await runCli(["keys", "revoke", kid], { cwd: dir });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^Revoked signing key "${kid}"`));
    const replacement = /New signing key "([^"]+)"/.exec(revoked.stdout)?.[1];
    assert.ok(replacement && replacement !== kid, revoked.stdout);

    const started = performance.now();
    const refused = await waitFor(
      "the revoked key's token to be refused",
      async () => {
        const answer = await helloWith(leaked);
        return answer.status === 401 && answer;
      },
      { timeoutMs: KEY_SYNC_BOUND_MS + 3000 },
    );
    const elapsed = Math.round(performance.now() - started);
    console.log(`The revoked key's token was refused after ${elapsed} ms`);
    assert.deepEqual(refused, { status: 401, body: { msg: "Unknown signing key" } });
    const store = await SqliteStore.open(join(dir, "data/auth.db"));
    try {
      assert.deepEqual(await jwksKids({ ...endpoint, store }), [replacement]);
    } finally {
      await store.close();
    }

    const fresh = await accessToken();
    assert.equal(decodeProtectedHeader(fresh).kid, replacement);
    assert.equal((await helloWith(fresh)).status, 200);
    assert.deepEqual((await storedKeys(dir)).map((key) => [key.kid, key.retiresAt]), [
      [replacement, null],
    ]);
    assert.ok(
      server.logs.every((line) => (line.status as number ?? 0) < 500 && line.level !== "error"),
    );
  });
});

Deno.test("keys revoke replaces a current key with one of its own algorithm, or of JWT_ALG when set, and says which", async () => {
  await withTempDir(async (dir) => {
    const rotated = await runCli(["keys", "rotate"], { cwd: dir, env: { JWT_ALG: "EdDSA" } });
    assert.equal(rotated.code, 0, rotated.stderr);
    const [eddsa] = await storedKeys(dir);
    assert.equal(eddsa.alg, "EdDSA");

    // Without JWT_ALG, the revocation does not switch back to the default ES256.
    const kept = await runCli(["keys", "revoke", eddsa.kid], { cwd: dir });
    assert.equal(kept.code, 0, kept.stderr);
    const [successor] = await storedKeys(dir);
    assert.equal(successor.alg, "EdDSA");
    assert.notEqual(successor.kid, eddsa.kid);
    assert.match(
      kept.stdout,
      new RegExp(
        `^New signing key "${successor.kid}" \\(EdDSA, the revoked key's algorithm; set JWT_ALG for another\\)$`,
        "m",
      ),
    );

    // JWT_ALG, when set, chooses.
    const switched = await runCli(["keys", "revoke", successor.kid], {
      cwd: dir,
      env: { JWT_ALG: "RS256" },
    });
    assert.equal(switched.code, 0, switched.stderr);
    const keys = await storedKeys(dir);
    assert.deepEqual(keys.map((key) => [key.alg, key.retiresAt]), [["RS256", null]]);
    assert.match(
      switched.stdout,
      new RegExp(`^New signing key "${keys[0].kid}" \\(RS256, JWT_ALG\\)$`, "m"),
    );
  });
});

Deno.test("keys list shows the ID-token key, and keys revoke of it says what it is and how to replace it, changing nothing", async () => {
  await withTempDir(async (dir) => {
    assert.equal((await runCli(["keys", "rotate"], { cwd: dir })).code, 0);
    const store = await SqliteStore.open(join(dir, "data/auth.db"));
    let idTokenKid: string;
    try {
      idTokenKid = (await IdTokenKeys.open(store)).kid;
    } finally {
      await store.close();
    }
    const listed = await runCli(["keys", "list"], { cwd: dir });
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2, listed.stdout);
    assert.match(lines[0], / {2}ES256 {2}created .* current$/);
    assert.match(lines[1], new RegExp(`^${idTokenKid} {2}RS256 {2}created .* ID tokens$`));

    const before = await storedKeys(dir);
    const refused = await runCli(["keys", "revoke", idTokenKid], { cwd: dir });
    const line = assertOneLineError(
      refused,
      new RegExp(`^Error: "${idTokenKid}" is the key of ID tokens \\(RS256\\)`),
    );
    assert.match(
      line,
      /keys revoke does not change; if it leaked, .*id_token_keys.* makes a new one$/,
    );
    assert.doesNotMatch(line, /No signing key/);
    assert.deepEqual(await storedKeys(dir), before, "the access-token keys are untouched");
    const again = await SqliteStore.open(join(dir, "data/auth.db"));
    try {
      assert.deepEqual((await again.listIdTokenKeys(unixNow())).map((key) => key.kid), [
        idTokenKid,
      ]);
    } finally {
      await again.close();
    }
  });
});
