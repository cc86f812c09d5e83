/**
 * @module
 * Sign-in from browsers across two `serve` processes on one database: a page shown by one
 * instance is posted to the other, a code issued by one is redeemed at the other and its replay
 * there revokes what the first issued, single sign-on and logout hold across both, and a
 * password changed from the command line signs the browser out everywhere.
 */
import assert from "node:assert/strict";
import { type Cluster, eventually, ISSUER, startCluster } from "./helpers/cluster.ts";
import { authorizeUrl, CookieBrowser, pkce, type Reachable, redirectedTo } from "./helpers/oidc.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { addClient, cliOn } from "./helpers/clients_cli.ts";
import type { ServerProcess } from "./helpers/process.ts";

const REDIRECT_URI = "https://app.example/callback";
const PASSWORD = "alice-password-1";
const NEW_PASSWORD = "alice-password-2";

/** The flow's calls against the two instances of a cluster. */
function flowOn(cluster: Cluster) {
  const { client } = cluster;
  const app = { clientId: "app", redirectUri: REDIRECT_URI };
  const at = (server: ServerProcess): Reachable => ({ url: server.url, client });
  const browser = new CookieBrowser(at(cluster.a));
  return {
    at,
    browser,
    authorize: (server: ServerProcess, params: Record<string, string>) =>
      authorizeUrl(at(server), app, { scope: "openid hello", ...params }),
    /** The shared browser, now talking to `server`. */
    on(server: ServerProcess): CookieBrowser {
      browser.server = at(server);
      return browser;
    },
    token: (server: ServerProcess, form: Record<string, string>) =>
      cluster.call(server, "/oauth/token", {
        form: { client_id: "app", redirect_uri: REDIRECT_URI, ...form },
      }),
    helloStatus: async (server: ServerProcess, accessToken: string) =>
      (await cluster.call(server, "/hello", { token: accessToken })).status,
  };
}

for (const kind of ["sqlite", "postgres"] as const) {
  testNeeding(kind === "postgres" ? [POSTGRESQL] : [], {
    name: `${
      kind === "sqlite" ? "SQLite" : "PostgreSQL"
    }, two instances: sign-in pages, codes, sessions, logout and password changes hold across both`,
    async fn(t) {
      await using cluster = await startCluster(kind, { alice: PASSWORD });
      const { a, b } = cluster;
      await addClient(cluster, "app", {
        redirectUris: [REDIRECT_URI],
        scope: "openid hello",
        public: true,
        firstParty: true,
      });
      const { browser, on, authorize, token, helloStatus } = flowOn(cluster);

      await t.step("both instances publish the same RS256 ID-token key", async () => {
        const keys = await Promise.all([a, b].map(async (server) => {
          const { body } = await cluster.call(server, "/.well-known/jwks.json");
          return (body.keys as { alg: string }[]).filter((key) => key.alg === "RS256");
        }));
        assert.equal(keys[0].length, 1);
        assert.deepEqual(keys[1], keys[0]);
      });

      await t.step(
        "a page shown by A is signed in at B; the code from B is redeemed at A",
        async () => {
          const { challenge, verifier } = await pkce();
          const fields = await on(a).signInPage(authorize(a, { code_challenge: challenge }));
          const signedIn = await on(b).signIn(fields, "alice", PASSWORD);
          const query = redirectedTo(signedIn, REDIRECT_URI);
          assert.equal(query.get("iss"), ISSUER);
          const code = query.get("code")!;
          const redeemed = await token(a, {
            grant_type: "authorization_code",
            code,
            code_verifier: verifier,
          });
          assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
          const accessToken = redeemed.body.access_token as string;
          assert.equal(await helloStatus(b, accessToken), 200);

          const replay = await token(b, {
            grant_type: "authorization_code",
            code,
            code_verifier: verifier,
          });
          assert.equal(replay.body.error, "invalid_grant");
          await eventually(
            "A to learn of the revocation",
            async () => await helloStatus(a, accessToken) === 401,
          );
        },
      );

      await t.step(
        "single sign-on at B, logout at A, and B no longer knows the browser",
        async () => {
          const { challenge, verifier } = await pkce();
          const sso = redirectedTo(
            await on(b).get(authorize(b, { code_challenge: challenge })),
            REDIRECT_URI,
          );
          assert.ok(sso.get("code"), `single sign-on, not ${sso}`);
          const redeemed = await token(b, {
            grant_type: "authorization_code",
            code: sso.get("code")!,
            code_verifier: verifier,
          });
          assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
          const loggedOut = await on(a).get(
            `${a.url}/end-session?id_token_hint=${redeemed.body.id_token}`,
          );
          assert.equal(loggedOut.status, 200);
          await loggedOut.body?.cancel();
          const silent = redirectedTo(
            await on(b).get(authorize(b, { code_challenge: challenge, prompt: "none" })),
            REDIRECT_URI,
          );
          assert.equal(silent.get("error"), "login_required");
          const refreshed = await token(b, {
            grant_type: "refresh_token",
            refresh_token: redeemed.body.refresh_token as string,
          });
          assert.equal(refreshed.body.error, "invalid_grant");
        },
      );

      await t.step("one sign-in form posted to both instances at once signs in once", async () => {
        for (let round = 0; round < 4; round++) {
          const fields = await on(a).signInPage(
            authorize(a, { code_challenge: (await pkce()).challenge }),
          );
          const cookie = browser.cookie;
          const statuses = await Promise.all([a, b, a, b].map(async (server) => {
            const racer = new CookieBrowser({ url: server.url, client: cluster.client });
            racer.cookie = cookie;
            const res = await racer.signIn(fields, "alice", PASSWORD);
            await res.body?.cancel();
            return res.status;
          }));
          assert.equal(statuses.filter((status) => status === 303).length, 1, String(statuses));
        }
      });

      await t.step(
        "user passwd from the command line signs the browser out on both instances: its tokens are revoked, a code issued before is refused and no code comes without the new password",
        async () => {
          const first = await pkce();
          const signedIn = redirectedTo(
            await on(a).signIn(
              await on(a).signInPage(authorize(a, { code_challenge: first.challenge })),
              "alice",
              PASSWORD,
            ),
            REDIRECT_URI,
          );
          const tokens = await token(b, {
            grant_type: "authorization_code",
            code: signedIn.get("code")!,
            code_verifier: first.verifier,
          });
          assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
          const pending = await pkce();
          const unredeemed = redirectedTo(
            await on(b).get(authorize(b, { code_challenge: pending.challenge })),
            REDIRECT_URI,
          ).get("code")!;

          const changed = await cliOn(cluster, ["user", "passwd", "alice"], `${NEW_PASSWORD}\n`);
          assert.equal(changed.code, 0, changed.stderr);
          // This browser and the family issued in it, and the four browsers the race signed in.
          assert.equal(
            changed.stdout.trim(),
            'Changed the password of "alice" and ended 6 sessions',
          );

          const late = await token(a, {
            grant_type: "authorization_code",
            code: unredeemed,
            code_verifier: pending.verifier,
          });
          assert.equal(late.status, 400, JSON.stringify(late.body));
          assert.equal(late.body.error, "invalid_grant");
          for (const server of [a, b]) {
            const silent = redirectedTo(
              await on(server).get(
                authorize(server, { code_challenge: pending.challenge, prompt: "none" }),
              ),
              REDIRECT_URI,
            );
            assert.equal(silent.get("error"), "login_required", server.name);
            const refreshed = await token(server, {
              grant_type: "refresh_token",
              refresh_token: tokens.body.refresh_token as string,
            });
            assert.equal(refreshed.body.error, "invalid_grant", server.name);
          }
          await eventually("both instances to refuse the access token", async () => {
            for (const server of [a, b]) {
              if (await helloStatus(server, tokens.body.access_token as string) !== 401) {
                return false;
              }
            }
            return true;
          });

          const again = await pkce();
          const fields = await on(b).signInPage(authorize(b, { code_challenge: again.challenge }));
          const refused = await on(a).signIn(fields, "alice", PASSWORD);
          assert.equal(refused.status, 400);
          assert.match(await refused.text(), /Invalid username or password/);
          const code = redirectedTo(
            await on(a).signIn(fields, "alice", NEW_PASSWORD),
            REDIRECT_URI,
          ).get("code")!;
          const fresh = await token(b, {
            grant_type: "authorization_code",
            code,
            code_verifier: again.verifier,
          });
          assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
        },
      );
    },
  });
}
