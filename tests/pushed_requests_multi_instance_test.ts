/**
 * @module
 * Pushed authorization requests across two `serve` processes on one database: a request pushed
 * to A runs at B (and its code is redeemed at A), and one `request_uri` opened by browsers at A
 * and B at once is used exactly once, as the store takes it in one atomic step.
 */
import assert from "node:assert/strict";
import { type Cluster, startCluster } from "./helpers/cluster.ts";
import { addClient, secretOf } from "./helpers/clients_cli.ts";
import { CookieBrowser, pkce, type Reachable, redirectedTo, tokenRequest } from "./helpers/oidc.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import type { ServerProcess } from "./helpers/process.ts";
import { pushed, pushedAuthorizeUrl } from "./helpers/pushed_requests.ts";

const REDIRECT_URI = "https://app.example/callback";
const PASSWORD = "alice-password-1";

for (const kind of ["postgres", "sqlite"] as const) {
  testNeeding(kind === "postgres" ? [POSTGRESQL] : [], {
    name: `${
      kind === "sqlite" ? "SQLite" : "PostgreSQL"
    }, two instances: a request pushed to A runs at B, and one request_uri used at both at once is used once`,
    async fn(t) {
      await using cluster: Cluster = await startCluster(kind, { alice: PASSWORD });
      const { a, b, client } = cluster;
      const added = await addClient(cluster, "web", {
        redirectUris: [REDIRECT_URI],
        firstParty: true,
        requirePar: true,
      });
      const web = { clientId: "web", secret: secretOf(added), redirectUri: REDIRECT_URI };
      const at = (server: ServerProcess): Reachable => ({ url: server.url, client });

      await t.step("pushed to A, signed in at B, the code redeemed at A", async () => {
        const { challenge, verifier } = await pkce();
        const requestUri = await pushed(at(a), web, { challenge });
        const browser = new CookieBrowser(at(b));
        const fields = await browser.signInPage(pushedAuthorizeUrl(b, "web", requestUri));
        const answer = redirectedTo(await browser.signIn(fields, "alice", PASSWORD), REDIRECT_URI);
        assert.equal(answer.get("state"), "pushed-state");
        const { res, body } = await tokenRequest(at(a), {
          grant_type: "authorization_code",
          code: answer.get("code")!,
          redirect_uri: REDIRECT_URI,
          code_verifier: verifier,
        }, { id: "web", secret: web.secret });
        assert.equal(res.status, 200, JSON.stringify(body));
        const again = await new CookieBrowser(at(a)).get(pushedAuthorizeUrl(a, "web", requestUri));
        assert.equal(again.status, 400, "used at B, refused at A");
        await again.body?.cancel();
      });

      await t.step(
        "one request_uri opened at A and B at once, ten rounds: used once each",
        async () => {
          for (let round = 0; round < 10; round++) {
            const { challenge } = await pkce();
            const requestUri = await pushed(at(round % 2 === 0 ? a : b), web, { challenge });
            const answers = await Promise.all(
              [a, b, a, b, a, b].map((server) =>
                new CookieBrowser(at(server)).get(pushedAuthorizeUrl(server, "web", requestUri))
              ),
            );
            const statuses = answers.map((res) => res.status).sort();
            await Promise.all(answers.map((res) => res.body?.cancel()));
            assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400], `round ${round}`);
          }
        },
      );
    },
  });
}
