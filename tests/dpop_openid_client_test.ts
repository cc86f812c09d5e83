/**
 * @module
 * DPoP with a relying party nobody here wrote: openid-client 6 and its `getDPoPHandle`, over real
 * HTTPS, for client credentials, the code flow with PKCE, refreshes with the same key and with
 * another, and server nonces, which openid-client asks for and retries by itself.
 */
import assert from "node:assert/strict";
import * as oidc from "openid-client";
import * as flows from "./helpers/oidc.ts";
import { PASSWORD } from "./helpers/oidc.ts";
import { checksOf, discoverAs, startAuthorization } from "./helpers/openid_client.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const REDIRECT_URI = "http://127.0.0.1:3000/callback";

async function serviceClient(server: TestServer): Promise<oidc.Configuration> {
  const svc = await flows.registerServiceClient(server, { scope: "hello" });
  return await discoverAs(server, svc.clientId, svc.secret!);
}

async function hello(
  config: oidc.Configuration,
  server: TestServer,
  token: string,
  dpop?: oidc.DPoPHandle,
) {
  const res = await oidc.fetchProtectedResource(
    config,
    token,
    new URL(`${server.url}/hello`),
    "GET",
    undefined,
    undefined,
    { DPoP: dpop },
  );
  return { status: res.status, body: await res.json() };
}

Deno.test("openid-client gets a DPoP-bound token by client credentials and calls /hello with it", async () => {
  await using server = await startTestServer();
  const config = await serviceClient(server);
  for (const alg of ["ES256", "EdDSA"]) {
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair(alg));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: "hello" }, { DPoP: dpop });
    assert.equal(tokens.token_type, "dpop");
    const answer = await hello(config, server, tokens.access_token, dpop);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.message, "Hello, client svc! You're authenticated.");
    // The same token as a Bearer one, without its key, gets nothing.
    await assert.rejects(
      hello(config, server, tokens.access_token),
      (error: oidc.WWWAuthenticateChallengeError) =>
        error.status === 401 && error.cause[0].scheme === "dpop" &&
        error.cause[0].parameters.error === "invalid_token",
    );
  }
});

Deno.test("openid-client signs in by the code flow with DPoP, refreshes with its key and is refused with another", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const app = await flows.registerClient(server, {
    clientId: "spa",
    redirectUris: [REDIRECT_URI],
  });
  const config = await discoverAs(server, app.clientId);
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair("EdDSA"));
  const started = await startAuthorization(config, REDIRECT_URI);
  const browser = new flows.CookieBrowser(server);
  const page = await browser.get(started.url.href);
  const signedIn = await browser.signIn(flows.formFields(await page.text()), "alice", PASSWORD);
  flows.redirectedTo(signedIn, REDIRECT_URI);
  const tokens = await oidc.authorizationCodeGrant(
    config,
    new URL(signedIn.headers.get("location")!),
    { ...checksOf(started), idTokenExpected: true },
    undefined,
    { DPoP: dpop },
  );
  assert.equal(tokens.token_type, "dpop");
  const { sub } = tokens.claims()!;
  const profile = await oidc.fetchUserInfo(config, tokens.access_token, sub, { DPoP: dpop });
  assert.equal(profile.preferred_username, "alice");

  const renewed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, {
    DPoP: dpop,
  });
  assert.equal(renewed.token_type, "dpop");
  const other = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair("EdDSA"));
  await assert.rejects(
    oidc.refreshTokenGrant(config, renewed.refresh_token!, undefined, { DPoP: other }),
    (error: oidc.ResponseBodyError) => error.error === "invalid_grant",
  );
  await assert.rejects(
    oidc.refreshTokenGrant(config, renewed.refresh_token!),
    (error: oidc.ResponseBodyError) => error.error === "invalid_grant",
  );
  const again = await oidc.refreshTokenGrant(config, renewed.refresh_token!, undefined, {
    DPoP: dpop,
  });
  assert.ok(again.access_token, "the refused attempts did not spend the refresh token");
});

Deno.test("openid-client follows the server's DPoP nonces at the token endpoint and at /hello", async () => {
  await using server = await startTestServer({ env: { DPOP_NONCE: "true" } });
  const config = await serviceClient(server);
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair("EdDSA"));
  const tokens = await oidc.clientCredentialsGrant(config, { scope: "hello" }, { DPoP: dpop });
  assert.equal(tokens.token_type, "dpop");
  const answer = await hello(config, server, tokens.access_token, dpop);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const asked = server.logs.filter((line) => line.event === "dpop_proof_refused");
  assert.ok(asked.length >= 1, "the server asked for a nonce");
  assert.ok(asked.every((line) => line.reason === "nonce"), JSON.stringify(asked));
});
