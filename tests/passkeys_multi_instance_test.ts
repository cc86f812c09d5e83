/**
 * @module
 * Passkeys on two instances sharing one database (SQLite file, PostgreSQL): a challenge shown by
 * one instance is answered at the other, answers to one challenge posted to both at once sign
 * in exactly once, and two answers of a cloned authenticator with one counter, to challenges of
 * both instances, sign in once.
 */
import assert from "node:assert/strict";
import { ISSUER, startCluster } from "./helpers/cluster.ts";
import { addClient } from "./helpers/clients_cli.ts";
import { authorizeUrl, CookieBrowser, formFields, pkce, redirectedTo } from "./helpers/oidc.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import type { ServerProcess } from "./helpers/process.ts";
import { dataAttribute, SoftwareAuthenticator } from "./helpers/software_authenticator.ts";

const REDIRECT_URI = "https://app.example/callback";
const APP = { clientId: "app", redirectUri: REDIRECT_URI };

for (const kind of ["sqlite", "postgres"] as const) {
  testNeeding(kind === "postgres" ? [POSTGRESQL] : [], {
    name: `${
      kind === "sqlite" ? "SQLite" : "PostgreSQL"
    }, two instances: answers to one passkey challenge at both sign in once, a cloned counter once`,
    async fn() {
      await using cluster = await startCluster(kind, { alice: "alice-password-1" });
      const { a, b, client } = cluster;
      await addClient(cluster, "app", {
        redirectUris: [REDIRECT_URI],
        scope: "openid",
        public: true,
        firstParty: true,
      });
      const key = await SoftwareAuthenticator.create(ISSUER);
      const alice = await cluster.store.getUser("alice");
      assert.ok(await cluster.store.addPasskey(key.record(alice!.subject)));
      const on = (server: ServerProcess, cookie?: string) => {
        const browser = new CookieBrowser({ url: server.url, client });
        browser.cookie = cookie;
        return browser;
      };
      const signInPage = async (server: ServerProcess) => {
        const browser = on(server);
        const { challenge } = await pkce();
        const res = await browser.get(
          authorizeUrl(browser.server, APP, { scope: "openid", code_challenge: challenge }),
        );
        const html = await res.text();
        assert.equal(res.status, 200, html);
        const options = dataAttribute(html, "data-passkey-request");
        return { browser, fields: formFields(html), challenge: options.challenge as string };
      };
      const statuses = async (answers: Promise<Response>[]) => {
        const results = await Promise.all(answers);
        await Promise.all(results.map((res) => res.body?.cancel()));
        return results.map((res) => res.status).toSorted();
      };

      const shown = await signInPage(a);
      const answers = await Promise.all(
        [1, 2, 3, 4].map((counter) => key.assert(shown.challenge, { counter })),
      );
      const raced = await statuses(
        answers.map((credential, index) =>
          on(index % 2 === 0 ? a : b, shown.browser.cookie).post("/sign-in/passkey", {
            ...shown.fields,
            credential,
          })
        ),
      );
      assert.deepEqual(raced, [303, 400, 400, 400]);

      const pages = await Promise.all([signInPage(a), signInPage(b)]);
      const cloned = await Promise.all(
        pages.map((page) => key.assert(page.challenge, { counter: 50 })),
      );
      const results = await Promise.all(
        pages.map((page, index) =>
          page.browser.post("/sign-in/passkey", { ...page.fields, credential: cloned[index] })
        ),
      );
      const won = results.filter((res) => res.status === 303);
      assert.equal(won.length, 1, String(results.map((res) => res.status)));
      assert.ok(redirectedTo(won[0], REDIRECT_URI).get("code"));
      await Promise.all(results.map((res) => res.body?.cancel()));
      assert.equal((await cluster.store.getPasskey(key.credentialId))?.counter, 50);
    },
  });
}
