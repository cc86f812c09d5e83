/**
 * Passkeys and the account rules over real HTTPS: adding and removing one needs a recent
 * sign-in and the session's own form, `MFA_REQUIRED` is met by a passkey (alone, or after the
 * password instead of setting up an app), and a passkey session meets `acr_values` for two
 * factors without another prompt.
 */
import assert from "node:assert/strict";
import * as oidc from "./helpers/oidc.ts";
import {
  passkeyAfterPassword,
  passkeyOf,
  passkeyTest,
  postPasskey,
  SECOND_FACTOR_PASSKEY_PATH,
  signInWithPasskey,
} from "./helpers/passkeys.ts";
import { accountPage } from "./helpers/second_factor.ts";

const AAL2 = "urn:auth-api:aal2";

passkeyTest(
  "Adding or removing a passkey needs a sign-in of the last ten minutes and this session's form",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const { browser } = await signInWithPasskey(server, app, key);
    const realNow = Date.now;
    Date.now = () => realNow() + 11 * 60 * 1000;
    try {
      for (
        const [path, fields] of [["/account/passkeys", { name: "Late" }], [
          "/account/passkeys/remove",
          { id: key.credentialId },
        ]] as const
      ) {
        const overview = await accountPage(browser);
        const stale = await browser.post(path, { ...oidc.formFields(overview.html), ...fields });
        const refused = await stale.text();
        assert.equal(stale.status, 400, refused);
        assert.match(refused, /too long ago/);
      }
    } finally {
      Date.now = realNow;
    }
    assert.equal((await server.store.getPasskey(key.credentialId))?.name, "Software key");
    // Another session's form, with this browser's cookie, is refused.
    const other = await signInWithPasskey(server, app, key);
    const othersForm = oidc.formFields((await accountPage(other.browser)).html);
    const stolen = await browser.post("/account/passkeys/remove", {
      ...othersForm,
      id: key.credentialId,
    });
    assert.equal(stolen.status, 403);
    await stolen.body?.cancel();
    assert.ok(await server.store.getPasskey(key.credentialId));
  },
);

passkeyTest({
  name:
    "MFA_REQUIRED is met by a passkey: alone it signs in, after the password it is asked for instead of an app",
  env: { MFA_REQUIRED: "true" },
}, async ({ server, app }) => {
  const key = await passkeyOf(server, "alice");
  await signInWithPasskey(server, app, key);

  const step = await passkeyAfterPassword(server, app);
  assert.doesNotMatch(step.html, /totp-secret/, "no app to set up");
  const done = await postPasskey(
    step.browser,
    step.fields,
    await key.assert(step.challenge),
    SECOND_FACTOR_PASSKEY_PATH,
  );
  assert.equal(oidc.redirectedTo(done, app.redirectUri).has("code"), true);
});

passkeyTest(
  "A passkey session meets acr_values for two factors at once; a password session is asked again",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const { browser } = await signInWithPasskey(server, app, key);
    const { verifier, challenge } = await oidc.pkce();
    const again = await browser.get(
      oidc.authorizeUrl(server, app, { code_challenge: challenge, acr_values: AAL2 }),
    );
    const code = oidc.redirectedTo(again, app.redirectUri).get("code")!;
    const claims = await oidc.redeemedIdToken(server, app, code, verifier);
    assert.equal(claims.acr, AAL2);
    assert.deepEqual(claims.amr, ["hwk", "user", "mfa"]);
  },
);
