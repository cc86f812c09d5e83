/**
 * @module
 * Passkeys under parallel requests over real HTTPS: an account one short of the most passkeys it
 * may have, finishing two registrations at once from two signed-in browsers, gains exactly one
 * and the other is told the cap (never an unknown error); a passkey removed on the account page
 * while a sign-in with it is posted signs in no more once the removal has answered, and neither
 * request ends in a server error.
 */
import assert from "node:assert/strict";
import { MAX_PASSKEYS_PER_ACCOUNT } from "../src/auth/accounts/passkeys.ts";
import * as oidc from "./helpers/oidc.ts";
import {
  answerWithPasskey,
  assertPasskeyRefused,
  passkeyOf,
  passkeyTest,
  postPasskey,
  signInPage,
  signInWithPasskey,
} from "./helpers/passkeys.ts";
import { accountPage } from "./helpers/second_factor.ts";
import { subjectOf } from "./helpers/server.ts";
import { dataAttribute, SoftwareAuthenticator } from "./helpers/software_authenticator.ts";

const ROUNDS = 4;

/** Starts adding a passkey on `browser`'s account page: the registration's form and options. */
async function startRegistration(browser: oidc.CookieBrowser, name: string) {
  const overview = await accountPage(browser);
  assert.equal(overview.res.status, 200, overview.html);
  const res = await browser.post("/account/passkeys", {
    ...oidc.formFields(overview.html),
    name,
  });
  const html = await res.text();
  assert.equal(res.status, 200, html);
  return { fields: oidc.formFields(html), options: dataAttribute(html, "data-passkey-create") };
}

passkeyTest(
  `Two registrations finished at once one short of ${MAX_PASSKEYS_PER_ACCOUNT} passkeys: exactly one is added, the other is told the cap`,
  async ({ server, app }) => {
    const alice = await subjectOf(server, "alice");
    const first = await passkeyOf(server, "alice");
    // Two browsers signed in with the passkey: two sessions that may change the account.
    const browsers = [
      (await signInWithPasskey(server, app, first)).browser,
      (await signInWithPasskey(server, app, first)).browser,
    ];
    for (let index = 1; index < MAX_PASSKEYS_PER_ACCOUNT - 1; index++) {
      const filler = await SoftwareAuthenticator.create(server.url);
      assert.ok(await server.store.addPasskey(filler.record(alice, `Key ${index}`)));
    }
    assert.equal((await server.store.listPasskeys(alice)).length, MAX_PASSKEYS_PER_ACCOUNT - 1);

    for (let round = 0; round < ROUNDS; round++) {
      const started = await Promise.all(
        browsers.map((browser, index) => startRegistration(browser, `Round ${round} ${index}`)),
      );
      const keys = await Promise.all(
        browsers.map(() => SoftwareAuthenticator.create(server.url)),
      );
      const answers = await Promise.all(
        keys.map((key, index) => key.register(started[index].options)),
      );
      const results = await Promise.all(
        browsers.map((browser, index) =>
          browser.post("/account/passkeys/finish", {
            ...started[index].fields,
            credential: answers[index],
          })
        ),
      );
      const pages = await Promise.all(results.map((res) => res.text()));
      const statuses = results.map((res) => res.status);
      assert.deepEqual(statuses.toSorted(), [200, 400], `round ${round}: ${statuses}`);
      const winner = statuses.indexOf(200);
      const loser = 1 - winner;
      assert.match(pages[winner], /Your passkey is added/);
      assert.match(
        pages[loser],
        new RegExp(`at most ${MAX_PASSKEYS_PER_ACCOUNT} passkeys; remove one first`),
        `round ${round}: ${pages[loser]}`,
      );
      const stored = await server.store.listPasskeys(alice);
      assert.equal(stored.length, MAX_PASSKEYS_PER_ACCOUNT, `round ${round}`);
      const ids = stored.map((passkey) => passkey.id);
      assert.ok(ids.includes(keys[winner].credentialId));
      assert.ok(!ids.includes(keys[loser].credentialId));
      // One short of the cap again for the next round.
      assert.ok(await server.store.removePasskey(alice, keys[winner].credentialId));
    }
    // At the cap, a registration started now is refused with the same message.
    const full = await passkeyOf(server, "alice");
    assert.equal((await server.store.listPasskeys(alice)).length, MAX_PASSKEYS_PER_ACCOUNT);
    const late = await startRegistration(browsers[0], "One too many");
    const key = await SoftwareAuthenticator.create(server.url);
    const refused = await browsers[0].post("/account/passkeys/finish", {
      ...late.fields,
      credential: await key.register(late.options),
    });
    await assertPasskeyRefused(refused, new RegExp(`at most ${MAX_PASSKEYS_PER_ACCOUNT} passkeys`));
    assert.ok(await server.store.getPasskey(full.credentialId));
    assert.equal(await server.store.getPasskey(key.credentialId), undefined);
    assert.ok(
      !server.logs.some((line) => line.event === "passkey_refused" && line.reason === "known"),
    );
  },
);

/** `send()` after `ms` milliseconds, or at once when `ms` is not positive. */
async function after(ms: number, send: () => Promise<Response>): Promise<Response> {
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  return await send();
}

passkeyTest(
  "A passkey removed while a sign-in with it is posted: after the removal answers it never signs in again, and no server error",
  async ({ server, app }) => {
    const alice = await subjectOf(server, "alice");
    const kept = await passkeyOf(server, "alice");
    const { browser } = await signInWithPasskey(server, app, kept);

    // Milliseconds the removal is sent after the sign-in (before it when negative), so that over
    // the rounds it lands before, amid and after the sign-in's checks and counter write.
    const removalDelays = [-10, -2, 0, 1, 3, 10];
    for (const [round, delay] of removalDelays.entries()) {
      const doomed = await passkeyOf(server, "alice");
      const [overview, page] = await Promise.all([
        accountPage(browser),
        signInPage(server, app),
      ]);
      assert.equal(overview.res.status, 200, overview.html);
      const assertion = await doomed.assert(page.challenge);
      const [removal, signIn] = await Promise.all([
        after(delay, () =>
          browser.post("/account/passkeys/remove", {
            ...oidc.formFields(overview.html),
            id: doomed.credentialId,
          })),
        after(-delay, () => postPasskey(page.browser, page.fields, assertion)),
      ]);
      const removalHtml = await removal.text();
      assert.equal(removal.status, 200, `round ${round}: ${removalHtml}`);
      assert.match(removalHtml, /Your passkey is removed/);
      // The racing sign-in either came first (sent back to the app) or was refused.
      const signInBody = await signIn.text();
      assert.ok(
        [303, 400].includes(signIn.status),
        `round ${round}: ${signIn.status} ${signInBody}`,
      );
      if (signIn.status === 303) {
        assert.ok(oidc.redirectedTo(signIn, app.redirectUri).get("code"));
      } else {
        assert.match(signInBody, /The passkey was not accepted/);
      }

      // A sign-in that finished after the removal must not have put the passkey back.
      assert.equal(await server.store.getPasskey(doomed.credentialId), undefined, `round ${round}`);
      assert.deepEqual(
        (await server.store.listPasskeys(alice)).map((passkey) => passkey.id),
        [kept.credentialId],
      );
      const again = await answerWithPasskey(server, app, doomed);
      await assertPasskeyRefused(again.res);
      assert.equal(again.browser.cookies.size, 1, "a binding cookie only, no session");
    }
    // The passkey that stayed still signs in.
    await signInWithPasskey(server, app, kept);
  },
);
