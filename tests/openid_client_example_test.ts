/**
 * @module
 * The openid-client example of src/auth/sign_in/README.md, run against the real server over
 * HTTPS: discovery with the custom fetch, the code flow with PKCE (the browser's part played by a
 * cookie-keeping fetch through the real sign-in page), the ID token and profile, a refresh, and
 * the sign-out URL followed to the app's page.
 */
import assert from "node:assert/strict";
import {
  CookieBrowser,
  formFields,
  PASSWORD,
  redirectedTo,
  registerClient,
} from "./helpers/oidc.ts";
import { startTestServer, subjectOf } from "./helpers/server.ts";
import {
  discover,
  finishSignIn,
  refresh,
  signOutUrl,
  startSignIn,
} from "./openid_client_example.ts";

const REDIRECT_URI = "http://127.0.0.1:3000/callback";
const SIGNED_OUT = "http://127.0.0.1:3000/";

Deno.test("the README's openid-client example signs a user in, reads the profile, refreshes and signs out", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const app = await registerClient(server, {
    clientId: "my-spa",
    redirectUris: [REDIRECT_URI],
    postLogoutRedirectUris: [SIGNED_OUT],
  });
  const config = await discover(new URL(server.url), app.clientId, server.client);

  const { url, pending } = await startSignIn(config, REDIRECT_URI);
  const browser = new CookieBrowser(server);
  const page = await browser.get(url.href);
  assert.equal(page.status, 200);
  const signedIn = await browser.signIn(formFields(await page.text()), "alice", PASSWORD);
  redirectedTo(signedIn, REDIRECT_URI);
  const callbackUrl = new URL(signedIn.headers.get("location")!);

  const { tokens, profile } = await finishSignIn(config, callbackUrl, pending);
  const sub = await subjectOf(server, "alice");
  assert.deepEqual(profile, { sub, preferred_username: "alice" });
  assert.equal(tokens.claims()?.sub, sub);

  const renewed = await refresh(config, tokens);
  assert.notEqual(renewed.refresh_token, tokens.refresh_token);
  const hello = await fetch(`${server.url}/userinfo`, {
    client: server.client,
    headers: { authorization: `Bearer ${renewed.access_token}` },
  });
  assert.equal(hello.status, 200, await hello.text());

  const signedOut = await browser.get(signOutUrl(config, tokens, SIGNED_OUT).href);
  await signedOut.body?.cancel();
  assert.equal(signedOut.status, 303);
  assert.equal(signedOut.headers.get("location"), SIGNED_OUT);
  const after = await fetch(`${server.url}/userinfo`, {
    client: server.client,
    headers: { authorization: `Bearer ${renewed.access_token}` },
  });
  await after.body?.cancel();
  assert.equal(after.status, 401, "signing out ended the app's session");
});
