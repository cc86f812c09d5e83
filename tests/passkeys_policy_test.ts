/**
 * Passkeys and the account rules over real HTTPS: adding and removing one needs a recent
 * sign-in and the session's own form, `MFA_REQUIRED` is met by a passkey (alone, or after the
 * password instead of setting up an app), and a passkey session meets `acr_values` for two
 * factors without another prompt.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import * as oidc from "./helpers/oidc.ts";
import { PASSWORD, REDIRECT_URI } from "./helpers/oidc.ts";
import { passkeyFormFields, passkeyOf, postPasskey, signInPage } from "./helpers/passkeys.ts";
import { accountPage } from "./helpers/second_factor.ts";
import { startTestServer } from "./helpers/server.ts";
import { dataAttribute } from "./helpers/software_authenticator.ts";

const OPTIONS = { sanitizeOps: false, sanitizeResources: false };
const AAL2 = "urn:auth-api:aal2";

async function setUp(env: Record<string, string> = {}) {
  const server = await startTestServer({ users: { alice: PASSWORD }, env });
  const app = await oidc.registerClient(server, { clientId: "app", redirectUris: [REDIRECT_URI] });
  return { server, app };
}

Deno.test({
  name:
    "Adding or removing a passkey needs a sign-in of the last ten minutes and this session's form",
  ...OPTIONS,
  async fn() {
    const { server, app } = await setUp();
    await using _ = server;
    const key = await passkeyOf(server, "alice");
    const page = await signInPage(server, app);
    const res = await postPasskey(page.browser, page.fields, await key.assert(page.challenge));
    assert.equal(res.status, 303);
    await res.body?.cancel();
    const { browser } = page;
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
    const other = await signInPage(server, app);
    const otherRes = await postPasskey(
      other.browser,
      other.fields,
      await key.assert(other.challenge),
    );
    assert.equal(otherRes.status, 303);
    await otherRes.body?.cancel();
    const othersForm = oidc.formFields((await accountPage(other.browser)).html);
    const stolen = await browser.post("/account/passkeys/remove", {
      ...othersForm,
      id: key.credentialId,
    });
    assert.equal(stolen.status, 403);
    await stolen.body?.cancel();
    assert.ok(await server.store.getPasskey(key.credentialId));
  },
});

Deno.test({
  name:
    "MFA_REQUIRED is met by a passkey: alone it signs in, after the password it is asked for instead of an app",
  ...OPTIONS,
  async fn() {
    const { server, app } = await setUp({ MFA_REQUIRED: "true" });
    await using _ = server;
    const key = await passkeyOf(server, "alice");
    const alone = await signInPage(server, app);
    const signedIn = await postPasskey(
      alone.browser,
      alone.fields,
      await key.assert(alone.challenge),
    );
    assert.equal(oidc.redirectedTo(signedIn, REDIRECT_URI).has("code"), true);

    const page = await signInPage(server, app);
    const afterPassword = await page.browser.signIn(page.fields, "alice", PASSWORD);
    const html = await afterPassword.text();
    assert.equal(afterPassword.status, 200, html);
    assert.match(html, /<h1>Use your passkey<\/h1>/);
    assert.doesNotMatch(html, /totp-secret/, "no app to set up");
    const challenge = dataAttribute(html, "data-passkey-request").challenge as string;
    const done = await postPasskey(
      page.browser,
      passkeyFormFields(html),
      await key.assert(challenge),
      "/sign-in/second-factor/passkey",
    );
    assert.equal(oidc.redirectedTo(done, REDIRECT_URI).has("code"), true);
  },
});

Deno.test({
  name:
    "A passkey session meets acr_values for two factors at once; a password session is asked again",
  ...OPTIONS,
  async fn() {
    const { server, app } = await setUp();
    await using _ = server;
    const key = await passkeyOf(server, "alice");
    const page = await signInPage(server, app);
    const first = await postPasskey(page.browser, page.fields, await key.assert(page.challenge));
    assert.equal(first.status, 303);
    await first.body?.cancel();
    const { verifier, challenge } = await oidc.pkce();
    const again = await page.browser.get(
      oidc.authorizeUrl(server, app, { code_challenge: challenge, acr_values: AAL2 }),
    );
    const code = oidc.redirectedTo(again, REDIRECT_URI).get("code")!;
    const { body } = await oidc.redeem(server, app, code, verifier);
    const claims = decodeJwt(body.id_token as string);
    assert.equal(claims.acr, AAL2);
    assert.deepEqual(claims.amr, ["hwk", "user", "mfa"]);
  },
});
