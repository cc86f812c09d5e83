/**
 * @module
 * Pushed authorization requests with a relying-party library nobody here wrote: openid-client 6
 * pushes the request with `buildAuthorizationUrlWithPAR` (as a confidential client with HTTP
 * Basic, and as a public one), headless Chromium signs in through the real form from a URL that
 * carries only `client_id` and `request_uri`, and openid-client exchanges the code and validates
 * the ID token. Opening the same URL again shows an error page, never a redirect.
 */
import assert from "node:assert/strict";
import * as oidc from "openid-client";
import type { Page } from "puppeteer-core";
import { launchBrowser } from "./helpers/browser.ts";
import { addClient, secretOf } from "./helpers/clients_cli.ts";
import { PASSWORD, registerClient, RelyingParty } from "./helpers/oidc.ts";
import { checksOf, discoverAs, startAuthorization } from "./helpers/openid_client.ts";
import { CHROMIUM, testNeeding } from "./helpers/prerequisites.ts";
import { startTestServer, subjectOf } from "./helpers/server.ts";

/** Opens `url`; unless the browser is signed in already, signs in through the form. */
async function signIn(page: Page, url: URL, signedIn: boolean): Promise<void> {
  await page.goto(url.href, { waitUntil: "load" });
  if (signedIn) return;
  assert.equal(await page.title(), "Sign in");
  await page.locator("#username").fill("alice");
  await page.locator("#password").fill(PASSWORD);
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("button")]);
}

/** Pushes a sign-in with PKCE, state and nonce; Chromium signs in; the code is exchanged. */
async function pushedSignIn(
  config: oidc.Configuration,
  page: Page,
  redirectUri: string,
  signedIn = false,
): Promise<{ url: URL; tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers }> {
  const started = await startAuthorization(config, redirectUri, { pushed: true });
  const { url } = started;
  assert.deepEqual([...url.searchParams.keys()].sort(), ["client_id", "request_uri"]);
  await signIn(page, url, signedIn);
  const landed = new URL(page.url());
  assert.equal(`${landed.origin}${landed.pathname}`, redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, landed, {
    ...checksOf(started),
    idTokenExpected: true,
  });
  return { url, tokens };
}

testNeeding([CHROMIUM], {
  name:
    "openid-client pushes the request (confidential and public clients), Chromium signs in from a URL with only client_id and request_uri, and the request_uri is used once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using server = await startTestServer({ users: { alice: PASSWORD } });
    await using rp = new RelyingParty();
    const added = await addClient(server, "web", {
      redirectUris: [rp.callback("web")],
      firstParty: true,
      requirePar: true,
    });
    const spa = await registerClient(server, { clientId: "spa", redirectUris: [rp.callback()] });
    await using chromium = await launchBrowser(server.certPem);
    const context = await chromium.browser.createBrowserContext();
    const page = await context.newPage();

    await t.step("a confidential client required to push, with HTTP Basic", async () => {
      const config = await discoverAs(server, "web", secretOf(added));
      assert.equal(
        config.serverMetadata().pushed_authorization_request_endpoint,
        `${server.url}/oauth/par`,
      );
      const { url, tokens } = await pushedSignIn(config, page, rp.callback("web"));
      const claims = tokens.claims()!;
      assert.equal(claims.sub, await subjectOf(server, "alice"));
      assert.equal(claims.aud, "web");
      assert.equal(tokens.scope, "openid profile");

      await page.goto(url.href, { waitUntil: "load" });
      assert.equal(await page.title(), "This request cannot be completed");
      assert.equal(new URL(page.url()).origin, server.url, "no redirect to the client");
    });

    await t.step("a public client, signed in already: single sign-on", async () => {
      const config = await discoverAs(server, spa.clientId);
      const { tokens } = await pushedSignIn(config, page, rp.callback(), true);
      assert.equal(tokens.claims()!.aud, "spa");
      assert.equal(tokens.claims()!.sub, await subjectOf(server, "alice"));
    });
  },
});
