import assert from "node:assert/strict";
import { PasswordHasher } from "../src/auth/passwords.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import { authorizeUrl, CookieBrowser, pkce, redirectedTo } from "./helpers/oidc.ts";
import { createTestDatabase, POSTGRES_MISSING } from "./helpers/postgres.ts";
import { runCli, ServeProcess } from "./helpers/process.ts";
import { testCertificate } from "./helpers/server.ts";

/**
 * Sign-in from browsers across two `serve` processes on one PostgreSQL database: a page shown
 * by one instance is posted to the other, a code issued by one is redeemed at the other and its
 * replay there revokes what the first issued, single sign-on and logout hold across both.
 */

if (POSTGRES_MISSING) {
  console.warn(`Skipping the multi-instance sign-in tests: ${POSTGRES_MISSING}`);
}

const ISSUER = "https://auth.multi.test";
const REDIRECT_URI = "https://app.example/callback";
const PASSWORD = "alice-password-1";
/** Revocations are re-read every second; allow for a slow machine. */
const PROPAGATION_LIMIT_MS = 3000;

Deno.test({
  name:
    "Two server processes on one PostgreSQL database share sign-in pages, codes, sessions and logout",
  ignore: POSTGRES_MISSING !== undefined,
  async fn(t) {
    await using database = await createTestDatabase();
    const dir = await Deno.makeTempDir({ prefix: "auth-api-oidc-multi-" });
    const { certPem, keyPem } = await testCertificate();
    await Deno.writeTextFile(`${dir}/cert.pem`, certPem);
    await Deno.writeTextFile(`${dir}/key.pem`, keyPem, { mode: 0o600 });
    const client = Deno.createHttpClient({ caCerts: [certPem] });
    const env = {
      DATABASE_URL: database.url,
      TLS_CERT: `${dir}/cert.pem`,
      TLS_KEY: `${dir}/key.pem`,
      PUBLIC_URL: ISSUER,
      LOG_LEVEL: "info",
    };
    const store = await PostgresStore.open(database.url, { maxConnections: 2 });
    try {
      const serve = { env, disposeSignal: "SIGTERM" } as const;
      await using a = new ServeProcess(["--port", "0"], { name: "A", ...serve });
      await using b = new ServeProcess(["--port", "0"], { name: "B", ...serve });
      const [urlA, urlB, hash] = await Promise.all([
        a.listening(),
        b.listening(),
        new PasswordHasher(600_000).hash(PASSWORD),
      ]);
      await store.addUser("alice", hash);
      const added = await runCli(
        [
          "clients",
          "add",
          "app",
          "--redirect-uri",
          REDIRECT_URI,
          "--scope",
          "openid hello",
          "--public",
          "--first-party",
        ],
        { env: { DATABASE_URL: database.url } },
      );
      assert.equal(added.code, 0, added.stderr);
      const app = { clientId: "app", redirectUri: REDIRECT_URI };
      const authorize = (server: typeof A, params: Record<string, string>) =>
        authorizeUrl(server, app, { scope: "openid hello", ...params });
      const A = { url: urlA, client };
      const B = { url: urlB, client };
      const browser = new CookieBrowser(A);
      const on = (server: typeof A) => {
        browser.server = server;
        return browser;
      };
      const token = (server: typeof A, form: Record<string, string>) =>
        fetch(`${server.url}/oauth/token`, {
          client,
          method: "POST",
          body: new URLSearchParams({ client_id: "app", redirect_uri: REDIRECT_URI, ...form }),
        }).then(async (res) => ({ status: res.status, body: await res.json() }));
      const helloStatus = async (server: typeof A, accessToken: string) => {
        const res = await fetch(`${server.url}/hello`, {
          client,
          headers: { authorization: `Bearer ${accessToken}` },
        });
        await res.body?.cancel();
        return res.status;
      };

      await t.step("both instances publish the same RS256 ID-token key", async () => {
        const keys = await Promise.all([A, B].map(async (server) => {
          const res = await fetch(`${server.url}/.well-known/jwks.json`, { client });
          const { keys } = await res.json();
          return keys.filter((key: { alg: string }) => key.alg === "RS256");
        }));
        assert.equal(keys[0].length, 1);
        assert.deepEqual(keys[1], keys[0]);
      });

      let tokens: Record<string, string> = {};
      await t.step(
        "a page shown by A is signed in at B; the code from B is redeemed at A",
        async () => {
          const { challenge, verifier } = await pkce();
          const fields = await on(A).signInPage(
            authorize(A, { code_challenge: challenge }),
          );
          const signedIn = await on(B).signIn(fields, "alice", PASSWORD);
          const query = redirectedTo(signedIn, REDIRECT_URI);
          assert.equal(query.get("iss"), ISSUER);
          const code = query.get("code")!;
          const redeemed = await token(A, {
            grant_type: "authorization_code",
            code,
            code_verifier: verifier,
          });
          assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
          tokens = redeemed.body;
          assert.equal(await helloStatus(B, tokens.access_token), 200);

          const replay = await token(B, {
            grant_type: "authorization_code",
            code,
            code_verifier: verifier,
          });
          assert.equal(replay.body.error, "invalid_grant");
          const started = performance.now();
          while (await helloStatus(A, tokens.access_token) !== 401) {
            assert.ok(
              performance.now() - started < PROPAGATION_LIMIT_MS,
              "A learns of the revocation",
            );
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        },
      );

      await t.step(
        "single sign-on at B, logout at A, and B no longer knows the browser",
        async () => {
          const { challenge, verifier } = await pkce();
          const sso = redirectedTo(
            await on(B).get(authorize(B, { code_challenge: challenge })),
            REDIRECT_URI,
          );
          assert.ok(sso.get("code"), `single sign-on, not ${sso}`);
          const redeemed = await token(B, {
            grant_type: "authorization_code",
            code: sso.get("code")!,
            code_verifier: verifier,
          });
          assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
          const loggedOut = await on(A).get(
            `${A.url}/end-session?id_token_hint=${redeemed.body.id_token}`,
          );
          assert.equal(loggedOut.status, 200);
          await loggedOut.body?.cancel();
          const silent = redirectedTo(
            await on(B).get(authorize(B, { code_challenge: challenge, prompt: "none" })),
            REDIRECT_URI,
          );
          assert.equal(silent.get("error"), "login_required");
          const refreshed = await token(B, {
            grant_type: "refresh_token",
            refresh_token: redeemed.body.refresh_token,
          });
          assert.equal(refreshed.body.error, "invalid_grant");
        },
      );

      await t.step("one sign-in form posted to both instances at once signs in once", async () => {
        for (let round = 0; round < 4; round++) {
          const fields = await on(A).signInPage(
            authorize(A, { code_challenge: (await pkce()).challenge }),
          );
          const cookie = browser.cookie;
          const statuses = await Promise.all([A, B, A, B].map(async (server) => {
            const racer = new CookieBrowser(server);
            racer.cookie = cookie;
            const res = await racer.signIn(fields, "alice", PASSWORD);
            await res.body?.cancel();
            return res.status;
          }));
          assert.equal(statuses.filter((status) => status === 303).length, 1, String(statuses));
        }
      });

      for (const server of [a, b]) {
        const errors = server.logs.filter((log) => log.level === "error");
        assert.deepEqual(errors, [], `${server.name} logged no errors`);
      }
    } finally {
      await store.close();
      client.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
