/**
 * @module
 * Two `serve` processes on one PostgreSQL database behave as one service: same keys, shared
 * revocations, refresh-token families, throttling and users, with changes made by one (or by the
 * CLI) seen by the other within the 1 s sync interval.
 */
import assert from "node:assert/strict";
import { decodeProtectedHeader } from "jose";
import postgres from "postgres";
import { Passwords } from "../src/auth/accounts/passwords.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { MIGRATIONS } from "../src/store/postgres/schema.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { runCli, ServerProcess } from "./helpers/process.ts";
import { jwksKids } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./helpers/tls.ts";
import { waitFor } from "./helpers/wait.ts";

/** Revocations and keys are re-read every second; allow for the poll step and a slow machine. */
const PROPAGATION_LIMIT_MS = 1500;
const POLL_MS = 100;
const ISSUER = "https://auth.multi.test";
const AUDIENCE = "https://api.multi.test";

testNeeding([POSTGRESQL], {
  name: "Two server processes on one PostgreSQL database act as one service",
  async fn(t) {
    await using database = await createTestDatabase();
    await using dir = await tempDir();
    const { certPem } = await testCertificate();
    // Where the serve task may read: certs/ under its working directory.
    await writeTlsFiles(dir.path);
    const client = Deno.createHttpClient({ caCerts: [certPem] });
    const env = {
      DATABASE_URL: database.url,
      PUBLIC_URL: ISSUER,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      // "info", not "warn": the "Listening" line that names the bound port is an info line.
      LOG_LEVEL: "info",
      THROTTLE_FREE_FAILURES: "2",
      THROTTLE_BASE_DELAY: "60",
      THROTTLE_MAX_DELAY: "60",
      THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "50",
    };
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    let store: PostgresStore | undefined;
    try {
      // Both servers and this test's own store start at once: three concurrent migrations, two
      // concurrent first-key creations.
      // On dispose, SIGTERM lets them shut down cleanly (SIGKILL follows 5 s later).
      const serve = { env, cwd: dir.path, disposeSignal: "SIGTERM" } as const;
      await using a = new ServerProcess(["serve", "--port", "0"], { name: "A", ...serve });
      await using b = new ServerProcess(["serve", "--port", "0"], { name: "B", ...serve });
      const hasher = new Passwords(600_000);
      const [, , opened, aliceHash, bobHash] = await Promise.all([
        a.listening(),
        b.listening(),
        PostgresStore.open(database.url, { maxConnections: 2 }),
        hasher.hash("alice-password-1"),
        hasher.hash("bob-password-1"),
      ]);
      store = opened;
      await store.addUser("alice", aliceHash);
      await store.addUser("bob", bobHash);

      const call = async (
        server: ServerProcess,
        path: string,
        init: { method?: string; token?: string; json?: unknown } = {},
      ) => {
        const headers: Record<string, string> = {};
        if (init.token) headers.authorization = `Bearer ${init.token}`;
        if (init.json !== undefined) headers["content-type"] = "application/json";
        const res = await fetch(`${server.url}${path}`, {
          method: init.method ?? (init.json === undefined ? "GET" : "POST"),
          client,
          headers,
          body: init.json === undefined ? undefined : JSON.stringify(init.json),
        });
        return { res, body: await res.json() as Record<string, unknown> };
      };
      const login = async (server: ServerProcess, username: string, password: string) => {
        const { res, body } = await call(server, "/login", { json: { username, password } });
        assert.equal(res.status, 200, `${server.name} login ${username}: ${JSON.stringify(body)}`);
        return { access: body.access_token as string, refresh: body.refresh_token as string };
      };
      const helloStatus = async (server: ServerProcess, token: string) =>
        (await call(server, "/hello", { token })).res.status;
      const kidOf = (token: string) => decodeProtectedHeader(token).kid;
      const endpoint = (server: ServerProcess) => ({ url: server.url, client, store: store! });
      /** Polls until `check` is true; returns the milliseconds it took, failing past `limitMs`. */
      const within = async (limitMs: number, what: string, check: () => Promise<boolean>) => {
        const started = performance.now();
        await waitFor(what, check, { timeoutMs: limitMs + 2000, intervalMs: POLL_MS });
        const elapsed = Math.round(performance.now() - started);
        assert.ok(elapsed < limitMs && await check(), `${what} took ${elapsed} ms`);
        return elapsed;
      };
      const timings: Record<string, number> = {};

      let firstKid = "";
      await t.step("both instances created the same first signing key", async () => {
        const [kidsA, kidsB] = await Promise.all([jwksKids(endpoint(a)), jwksKids(endpoint(b))]);
        assert.equal(kidsA.length, 1, JSON.stringify(kidsA));
        assert.deepEqual(kidsB, kidsA);
        firstKid = kidsA[0];
        const [{ count }] = await sql`SELECT count(*)::int AS count FROM signing_keys`;
        assert.equal(count, 1, "the first key was created once");
        const versions = await sql`SELECT version FROM schema_migrations ORDER BY version`;
        assert.deepEqual(
          versions.map((row) => row.version),
          MIGRATIONS.map((_, index) => index + 1),
          "migrations applied once",
        );
        const [{ idTokenKeys }] =
          await sql`SELECT count(*)::int AS "idTokenKeys" FROM id_token_keys`;
        assert.equal(idTokenKeys, 1, "the ID-token key was created once");
      });

      let beforeRotation = "";
      await t.step("a token issued by A is accepted by B, and one by B by A", async () => {
        const fromA = await login(a, "alice", "alice-password-1");
        const fromB = await login(b, "alice", "alice-password-1");
        assert.equal(kidOf(fromA.access), firstKid);
        assert.equal(kidOf(fromB.access), firstKid);
        const { res, body } = await call(b, "/hello", { token: fromA.access });
        assert.equal(res.status, 200);
        assert.deepEqual(body, { message: "Hello, alice! You're authenticated." });
        assert.equal(await helloStatus(a, fromB.access), 200);
        beforeRotation = fromA.access;
      });

      await t.step("a logout on A is refused by B within a second, cached or not", async () => {
        const { access } = await login(a, "alice", "alice-password-1");
        // B verifies (and caches) the token before the logout.
        assert.equal(await helloStatus(b, access), 200);
        assert.equal(await helloStatus(b, access), 200);
        const out = await call(a, "/logout", { method: "POST", token: access });
        assert.equal(out.res.status, 200, JSON.stringify(out.body));
        const onA = await call(a, "/hello", { token: access });
        assert.equal(onA.res.status, 401, "A refuses at once");
        assert.equal(onA.body.msg, "Token has been revoked");
        timings.logout = await within(
          PROPAGATION_LIMIT_MS,
          "B learning of the logout",
          async () => {
            const { res, body } = await call(b, "/hello", { token: access });
            return res.status === 401 && body.msg === "Token has been revoked";
          },
        );
      });

      await t.step("refresh-token reuse detected on B revokes the family on A", async () => {
        const first = await login(a, "alice", "alice-password-1");
        assert.equal(await helloStatus(a, first.access), 200, "A caches the first access token");
        const rotated = await call(b, "/refresh", { json: { refresh_token: first.refresh } });
        assert.equal(rotated.res.status, 200, JSON.stringify(rotated.body));
        const second = rotated.body.access_token as string;
        assert.equal(await helloStatus(a, second), 200, "A caches the rotated access token");
        const replay = await call(b, "/refresh", { json: { refresh_token: first.refresh } });
        assert.equal(replay.res.status, 400);
        assert.equal(replay.body.error, "invalid_grant");
        assert.match(String(replay.body.msg), /already used/);
        timings.reuse = await within(
          PROPAGATION_LIMIT_MS,
          "A learning of the reuse",
          async () =>
            await helloStatus(a, first.access) === 401 && await helloStatus(a, second) === 401,
        );
        // The rotated refresh token is refused on A too (read from the store, no delay).
        const late = await call(a, "/refresh", {
          json: { refresh_token: rotated.body.refresh_token },
        });
        assert.equal(late.res.status, 400);
        assert.equal(late.body.msg, "Refresh token has been revoked");
      });

      await t.step("keys rotate by the CLI reaches both instances within 1.5 s", async () => {
        const rotate = await runCli(["keys", "rotate"], { env: { DATABASE_URL: database.url } });
        assert.equal(rotate.code, 0, rotate.stderr);
        const newKid = /New signing key "([^"]+)"/.exec(rotate.stdout)?.[1];
        assert.ok(newKid && newKid !== firstKid, rotate.stdout);
        const [onA, onB] = await Promise.all(
          [a, b].map((server) =>
            within(PROPAGATION_LIMIT_MS, `${server.name} publishing the new key`, async () => {
              const kids = await jwksKids(endpoint(server));
              return kids.includes(newKid) && kids.includes(firstKid);
            })
          ),
        );
        timings.rotationA = onA;
        timings.rotationB = onB;
        const fromA = await login(a, "alice", "alice-password-1");
        const fromB = await login(b, "alice", "alice-password-1");
        assert.equal(kidOf(fromA.access), newKid);
        assert.equal(kidOf(fromB.access), newKid);
        assert.equal(await helloStatus(b, fromA.access), 200);
        assert.equal(await helloStatus(a, fromB.access), 200);
        // Tokens signed with the retiring key keep working on both.
        assert.equal(await helloStatus(a, beforeRotation), 200);
        assert.equal(await helloStatus(b, beforeRotation), 200);
      });

      await t.step(
        "keys revoke by the CLI: both instances refuse the key's tokens within 1.5 s and sign with a replacement",
        async () => {
          const [current] = await jwksKids(endpoint(a));
          const cached = await login(a, "alice", "alice-password-1");
          const fromB = await login(b, "alice", "alice-password-1");
          for (const token of [cached.access, fromB.access, beforeRotation]) {
            assert.equal(await helloStatus(a, token), 200, "cached before the revocation");
            assert.equal(await helloStatus(b, token), 200, "cached before the revocation");
          }
          // The retiring key first: its tokens stop working, the current key is untouched.
          const retiring = await runCli(["keys", "revoke", firstKid], {
            env: { DATABASE_URL: database.url },
          });
          assert.equal(retiring.code, 0, retiring.stderr);
          assert.match(retiring.stdout, new RegExp(`Revoked signing key "${firstKid}"`));
          assert.doesNotMatch(retiring.stdout, /New signing key/);
          timings.revokeRetiring = await within(
            PROPAGATION_LIMIT_MS,
            "both refusing the revoked retiring key",
            async () =>
              await helloStatus(a, beforeRotation) === 401 &&
              await helloStatus(b, beforeRotation) === 401,
          );
          assert.equal(await helloStatus(a, cached.access), 200);
          assert.deepEqual(await jwksKids(endpoint(b)), [current]);

          // Then the current key: a new one takes its place everywhere.
          const revoked = await runCli(["keys", "revoke", current], {
            env: { DATABASE_URL: database.url },
          });
          assert.equal(revoked.code, 0, revoked.stderr);
          const replacement = /New signing key "([^"]+)"/.exec(revoked.stdout)?.[1];
          assert.ok(replacement && replacement !== current, revoked.stdout);
          timings.revokeCurrent = await within(
            PROPAGATION_LIMIT_MS,
            "both refusing the revoked current key and publishing its replacement",
            async () => {
              const statuses = await Promise.all(
                [a, b].flatMap((server) =>
                  [cached.access, fromB.access].map((token) => helloStatus(server, token))
                ),
              );
              const kids = await Promise.all([jwksKids(endpoint(a)), jwksKids(endpoint(b))]);
              return statuses.every((status) => status === 401) &&
                kids.every((list) => list.length === 1 && list[0] === replacement);
            },
          );
          const refused = await call(b, "/hello", { token: cached.access });
          assert.match(refused.res.headers.get("www-authenticate") ?? "", /invalid_token/);
          const afterA = await login(a, "alice", "alice-password-1");
          const afterB = await login(b, "alice", "alice-password-1");
          assert.equal(kidOf(afterA.access), replacement);
          assert.equal(kidOf(afterB.access), replacement);
          assert.equal(await helloStatus(b, afterA.access), 200);
          assert.equal(await helloStatus(a, afterB.access), 200);
          const [{ count }] = await sql`
          SELECT count(*)::int AS count FROM signing_keys WHERE private_jwk IS NOT NULL`;
          assert.equal(count, 1, "only the current key keeps its private half");

          // Replayed: nothing left to revoke.
          const again = await runCli(["keys", "revoke", current], {
            env: { DATABASE_URL: database.url },
          });
          assert.equal(again.code, 1);
          assert.match(again.stderr, /No signing key/);
        },
      );

      await t.step("keys rotate with JWT_ALG=EdDSA switches both instances to EdDSA", async () => {
        const es256 = await login(a, "alice", "alice-password-1");
        assert.equal(decodeProtectedHeader(es256.access).alg, "ES256");
        const rotate = await runCli(["keys", "rotate"], {
          env: { DATABASE_URL: database.url, JWT_ALG: "EdDSA" },
        });
        assert.equal(rotate.code, 0, rotate.stderr);
        const edKid = /New signing key "([^"]+)" \(EdDSA\)/.exec(rotate.stdout)?.[1];
        assert.ok(edKid, rotate.stdout);
        await Promise.all(
          [a, b].map((server) =>
            within(
              PROPAGATION_LIMIT_MS,
              `${server.name} publishing the EdDSA key`,
              async () => (await jwksKids(endpoint(server))).includes(edKid),
            )
          ),
        );
        const fromA = await login(a, "alice", "alice-password-1");
        const fromB = await login(b, "alice", "alice-password-1");
        for (const token of [fromA.access, fromB.access]) {
          assert.deepEqual(
            [decodeProtectedHeader(token).alg, kidOf(token)],
            ["EdDSA", edKid],
          );
        }
        assert.equal(await helloStatus(b, fromA.access), 200);
        assert.equal(await helloStatus(a, fromB.access), 200);
        // The ES256 tokens of before keep working on both until their keys retire.
        assert.equal(await helloStatus(a, es256.access), 200);
        assert.equal(await helloStatus(b, es256.access), 200);
      });

      await t.step("failed logins are counted across both instances", async () => {
        const wrong = { username: "bob", password: "not-bobs-password" };
        const first = await call(a, "/login", { json: wrong });
        assert.equal(first.res.status, 400, JSON.stringify(first.body));
        const second = await call(b, "/login", { json: wrong });
        assert.equal(second.res.status, 400, JSON.stringify(second.body));
        // Two failures (one per instance) reach THROTTLE_FREE_FAILURES: even the right password
        // is now refused by either instance.
        for (const server of [a, b]) {
          const { res } = await call(server, "/login", {
            json: { username: "bob", password: "bob-password-1" },
          });
          assert.equal(res.status, 429, `${server.name} throttles bob`);
          assert.ok(Number(res.headers.get("retry-after")) > 0);
        }
        // Other accounts are not affected.
        await login(b, "alice", "alice-password-1");
      });

      await t.step("a user added by the CLI can log in on both instances", async () => {
        const added = await runCli(["user", "add", "carol"], {
          env: { DATABASE_URL: database.url },
          stdin: "carol-password-1\n",
        });
        assert.equal(added.code, 0, added.stderr);
        assert.match(added.stdout, /Added user "carol"/);
        const fromA = await login(a, "carol", "carol-password-1");
        const fromB = await login(b, "carol", "carol-password-1");
        assert.equal(await helloStatus(b, fromA.access), 200);
        assert.equal(await helloStatus(a, fromB.access), 200);
      });

      console.log(`Propagation (ms): ${JSON.stringify(timings)}`);
      for (const server of [a, b]) {
        const errors = server.logs.filter((log) => log.level === "error");
        assert.deepEqual(errors, [], `${server.name} logged no errors`);
      }
    } finally {
      await store?.close();
      await sql.end();
      client.close();
    }
  },
});
