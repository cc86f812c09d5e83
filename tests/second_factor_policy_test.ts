/**
 * @module
 * When a second factor is required of an account that has none, over HTTPS with codes from
 * `oathtool`: `MFA_REQUIRED=true` makes every account set one up at its next browser sign-in
 * (an older session included), and `acr_values` asking for two factors steps a sign-in up.
 * Discovery lists the classes.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { loadConfig } from "../src/config_load.ts";
import * as oidc from "./helpers/oidc.ts";
import { OATHTOOL, testNeeding } from "./helpers/prerequisites.ts";
import { nowSeconds, oathtoolCode } from "./helpers/second_factor.ts";
import { login, startTestServer, testHasher, type TestServer } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const REDIRECT_URI = "https://app.example/callback";
const TWO_FACTORS = "urn:auth-api:aal2";

async function setUp(
  env: Record<string, string> = {},
  dir?: string,
): Promise<{ server: TestServer; app: oidc.TestClient }> {
  const server = await startTestServer({ env, dir });
  if (!await server.store.getUser("alice")) {
    await server.store.addUser("alice", await testHasher().hash(oidc.PASSWORD));
  }
  const known = await server.store.getClient("app");
  const app = known
    ? { clientId: "app", redirectUri: REDIRECT_URI }
    : await oidc.registerClient(server, { clientId: "app", redirectUris: [REDIRECT_URI] });
  return { server, app };
}

/**
 * Enters alice's password for an authorization with `params` and expects the set-up page;
 * returns the page and the PKCE verifier.
 */
async function signInToSetUp(
  server: TestServer,
  app: oidc.TestClient,
  browser: oidc.CookieBrowser,
  params: Record<string, string> = {},
): Promise<{ html: string; secret: string; verifier: string }> {
  const { verifier, challenge } = await oidc.pkce();
  const url = oidc.authorizeUrl(server, app, { code_challenge: challenge, ...params });
  const res = await browser.signIn(await browser.signInPage(url), "alice", oidc.PASSWORD);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /<h1>Set up two-step sign-in<\/h1>/);
  assert.match(html, /<svg class="qr-code"/);
  const secret = /id="totp-secret">([A-Z2-7]+)</.exec(html)![1];
  return { html, secret, verifier };
}

/** Confirms the set-up, reads the recovery codes and continues; returns the code's ID token claims. */
async function confirmAndContinue(
  server: TestServer,
  app: oidc.TestClient,
  browser: oidc.CookieBrowser,
  setUpPage: { html: string; secret: string; verifier: string },
): Promise<Record<string, unknown>> {
  const wrong = await browser.post("/sign-in/second-factor", {
    ...oidc.formFields(setUpPage.html),
    code: "000000",
  });
  const again = await wrong.text();
  assert.equal(wrong.status, 400, again);
  assert.match(again, new RegExp(setUpPage.secret), "the same secret is shown again");
  const confirmed = await browser.post("/sign-in/second-factor", {
    ...oidc.formFields(again),
    code: await oathtoolCode(setUpPage.secret, nowSeconds()),
  });
  const codesPage = await confirmed.text();
  assert.equal(confirmed.status, 200, codesPage);
  assert.equal([...codesPage.matchAll(/<li><code>/g)].length, 10);
  const onward = await browser.post("/sign-in/continue", { ...oidc.formFields(codesPage) });
  const code = oidc.redirectedTo(onward, REDIRECT_URI).get("code")!;
  const tokens = await oidc.redeem(server, app, code, setUpPage.verifier);
  assert.equal(tokens.res.status, 200, JSON.stringify(tokens.body));
  return decodeJwt(tokens.body.id_token as string);
}

testNeeding([OATHTOOL], {
  name:
    "MFA_REQUIRED=true makes an account without a second factor set one up at its next browser sign-in, an older session included",
  async fn() {
    const { challenge } = await oidc.pkce();
    await withTempDir(async (dir) => {
      // The same store, first without the policy: alice signs in with her password alone.
      const before = await setUp({}, dir);
      const older = new oidc.CookieBrowser(before.server);
      const first = oidc.authorizeUrl(before.server, before.app, { code_challenge: challenge });
      oidc.redirectedTo(
        await older.signIn(await older.signInPage(first), "alice", oidc.PASSWORD),
        REDIRECT_URI,
      );
      await before.server[Symbol.asyncDispose]();

      const { server, app } = await setUp({ MFA_REQUIRED: "true" }, dir);
      await using _ = server;
      older.server = server;
      const sso = await older.get(oidc.authorizeUrl(server, app, { code_challenge: challenge }));
      assert.match(await sso.text(), /<h1>Sign in<\/h1>/, "the older session does not do");
      const silent = await older.get(
        oidc.authorizeUrl(server, app, { code_challenge: challenge, prompt: "none" }),
      );
      assert.equal(oidc.redirectedTo(silent, REDIRECT_URI).get("error"), "login_required");

      const browser = new oidc.CookieBrowser(server);
      const setUpPage = await signInToSetUp(server, app, browser);
      const claims = await confirmAndContinue(server, app, browser, setUpPage);
      assert.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
      assert.equal(claims.acr, TWO_FACTORS);
      // From now on the second factor is alice's: /login refuses the password alone.
      const refused = await login(server, "alice", oidc.PASSWORD);
      assert.equal(refused.res.status, 400);
      assert.equal(refused.body.access_token, undefined);
    });
  },
});

testNeeding([OATHTOOL], {
  name:
    "acr_values asking for two factors steps up a password session and sets a factor up where there is none",
  async fn() {
    const { server, app } = await setUp();
    await using _ = server;
    const browser = new oidc.CookieBrowser(server);
    const { verifier, challenge } = await oidc.pkce();
    const plain = oidc.authorizeUrl(server, app, { code_challenge: challenge });
    const code = oidc.redirectedTo(
      await browser.signIn(await browser.signInPage(plain), "alice", oidc.PASSWORD),
      REDIRECT_URI,
    ).get("code")!;
    const tokens = await oidc.redeem(server, app, code, verifier);
    const claims = decodeJwt(tokens.body.id_token as string);
    assert.deepEqual(claims.amr, ["pwd"]);
    assert.equal(claims.acr, "urn:auth-api:aal1");

    // The session of the password alone does not do for two factors, silently or not.
    const stepUp = { acr_values: TWO_FACTORS };
    const silent = await browser.get(
      oidc.authorizeUrl(server, app, { code_challenge: challenge, prompt: "none", ...stepUp }),
    );
    assert.equal(oidc.redirectedTo(silent, REDIRECT_URI).get("error"), "login_required");
    const setUpPage = await signInToSetUp(server, app, browser, stepUp);
    const stepped = await confirmAndContinue(server, app, browser, setUpPage);
    assert.equal(stepped.acr, TWO_FACTORS);
    // Either class will do: no step-up, the session's own class is reported.
    const either = oidc.authorizeUrl(server, app, {
      code_challenge: challenge,
      acr_values: `urn:auth-api:aal1 ${TWO_FACTORS}`,
    });
    assert.ok(oidc.redirectedTo(await browser.get(either), REDIRECT_URI).get("code"));
  },
});

Deno.test("Discovery lists acr_values_supported and the amr and acr claims", async () => {
  const { server } = await setUp();
  await using _ = server;
  const res = await fetch(`${server.url}/.well-known/openid-configuration`, {
    client: server.client,
  });
  const metadata = await res.json();
  assert.deepEqual(metadata.acr_values_supported, ["urn:auth-api:aal1", TWO_FACTORS]);
  assert.ok(metadata.claims_supported.includes("amr"));
  assert.ok(metadata.claims_supported.includes("acr"));
});

Deno.test("MFA_REQUIRED is read as a boolean and refused otherwise", () => {
  const base = { TLS_CERT: "c", TLS_KEY: "k" };
  assert.equal(loadConfig([], base).mfaRequired, false);
  assert.equal(loadConfig([], { ...base, MFA_REQUIRED: "true" }).mfaRequired, true);
  assert.throws(() => loadConfig([], { ...base, MFA_REQUIRED: "maybe" }), /MFA_REQUIRED/);
});
