/**
 * @module
 * Passkeys and the account rules over real HTTPS: adding and removing one needs a recent
 * sign-in and the session's own form, `MFA_REQUIRED` is met by a passkey (alone, or after the
 * password instead of setting up an app, or one made at that step), and a passkey session meets
 * `acr_values` for two factors without another prompt.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import * as oidc from "./helpers/oidc.ts";
import {
  passkeyAfterPassword,
  passkeyFormFields,
  passkeyOf,
  passkeyTest,
  postPasskey,
  SECOND_FACTOR_PASSKEY_PATH,
  signInPage,
  signInWithPasskey,
} from "./helpers/passkeys.ts";
import { subjectOf, type TestServer } from "./helpers/server.ts";
import { dataAttribute, SoftwareAuthenticator } from "./helpers/software_authenticator.ts";
import { accountPage } from "./helpers/second_factor.ts";

const AAL2 = "urn:auth-api:aal2";
const NEW_PASSKEY = "/sign-in/second-factor/new-passkey";

/**
 * A new browser signs in with alice's password and is asked for her passkey `key` next, with
 * nothing to set up (no app, no new passkey); `key` answers, and the app gets a code.
 */
async function passwordThenPasskey(
  server: TestServer,
  app: oidc.TestClient,
  key: SoftwareAuthenticator,
): Promise<void> {
  const step = await passkeyAfterPassword(server, app);
  assert.doesNotMatch(step.html, /totp-secret|data-passkey-create/, "nothing to set up");
  const done = await postPasskey(
    step.browser,
    step.fields,
    await key.assert(step.challenge),
    SECOND_FACTOR_PASSKEY_PATH,
  );
  assert.equal(oidc.redirectedTo(done, app.redirectUri).has("code"), true);
}

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

  await passwordThenPasskey(server, app, key);
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

passkeyTest({
  name:
    "MFA_REQUIRED offers a new passkey instead of an app after the password: made once, it signs in with both and is asked for next time",
  env: { MFA_REQUIRED: "true" },
}, async ({ server, app }) => {
  const page = await signInPage(server, app);
  const res = await page.browser.signIn(page.fields, "alice", oidc.PASSWORD);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /totp-secret/, "an app may still be set up");
  const options = dataAttribute(html, "data-passkey-create");
  assert.deepEqual(options.authenticatorSelection, {
    residentKey: "required",
    userVerification: "required",
    requireResidentKey: true,
  });
  const fields = passkeyFormFields(html);
  const key = await SoftwareAuthenticator.create(server.url);
  const made = await key.register(options);

  // Another browser cannot post this step's form.
  const stranger = await postPasskey(new oidc.CookieBrowser(server), fields, made, NEW_PASSKEY);
  await stranger.body?.cancel();
  assert.equal(stranger.status, 403);

  // Posted twice at once, the new passkey is stored and signs in once.
  const answers = await Promise.all([
    postPasskey(page.browser, fields, made, NEW_PASSKEY),
    postPasskey(page.browser, fields, made, NEW_PASSKEY),
  ]);
  const codes = answers.filter((answer) => answer.status === 303);
  assert.equal(codes.length, 1, answers.map((answer) => answer.status).join(", "));
  for (const answer of answers) await answer.body?.cancel();
  const code = oidc.redirectedTo(codes[0], app.redirectUri).get("code")!;
  const tokens = await oidc.redeem(server, app, code, page.verifier);
  assert.equal(tokens.res.status, 200, JSON.stringify(tokens.body));
  const amr = decodeJwt(tokens.body.id_token as string).amr as string[];
  assert.deepEqual([...amr].sort(), ["hwk", "mfa", "pwd", "user"]);
  assert.equal((await server.store.listPasskeys(await subjectOf(server, "alice"))).length, 1);

  // Next time the passkey is asked for after the password, and nothing is set up again.
  await passwordThenPasskey(server, app, key);
});

passkeyTest(
  "A second-factor step that sets nothing up makes no passkey: a new one posted there is refused",
  async ({ server, app }) => {
    await passkeyOf(server, "alice");
    const step = await passkeyAfterPassword(server, app);
    const other = await SoftwareAuthenticator.create(server.url);
    const options = { challenge: step.challenge, user: { id: "eA" } };
    const res = await postPasskey(
      step.browser,
      step.fields,
      await other.register(options),
      NEW_PASSKEY,
    );
    const html = await res.text();
    assert.equal(res.status, 400, html);
    assert.match(html, /No passkey is being added/);
    assert.equal((await server.store.listPasskeys(await subjectOf(server, "alice"))).length, 1);
  },
);
