/**
 * @module
 * Passkeys in a real browser: Debian's Chromium, headless, driven by puppeteer-core, with its
 * virtual authenticator (Chrome DevTools Protocol `WebAuthn`, CTAP2, resident keys, user
 * verification). A passkey registered on the account page signs in alone, by the button and by
 * the username field's autofill (conditional mediation), and the relying party's ID token says
 * so (`hwk`, `user`); an assertion captured and posted again, or twice at once, signs in at most
 * once; a removed passkey signs in no more; a passkey is the second factor after a password; a
 * passkey of another RP ID is never offered (the server's refusal of one, should it come, is in
 * passkeys_test.ts).
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import type { HTTPRequest, Page, Protocol } from "puppeteer-core";
import { launchBrowser, screenshot } from "./helpers/browser.ts";
import * as oidc from "./helpers/oidc.ts";
import { PASSWORD } from "./helpers/oidc.ts";
import { CHROMIUM, testNeeding } from "./helpers/prerequisites.ts";
import { startTestServer, subjectOf, type TestServer } from "./helpers/server.ts";
import { waitFor } from "./helpers/wait.ts";

const OPTIONS = { sanitizeOps: false, sanitizeResources: false };

/** Runs `action` and waits for the page it loads. */
async function navigating(page: Page, action: () => Promise<unknown>): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), action()]);
}

/**
 * Chromium with a virtual CTAP2 platform authenticator (resident keys, a verified user) on a new
 * server with alice and her app (first party) at a relying party; all of it stops on dispose.
 * Passkey autofill is off (as in a browser without it) until `autofill()`: the virtual
 * authenticator answers a conditional request at once, which would leave no page to click on.
 */
async function setUp(env: Record<string, string> = {}) {
  await using stack = new AsyncDisposableStack();
  const server = stack.use(await startTestServer({ users: { alice: PASSWORD }, env }));
  const rp = stack.use(new oidc.RelyingParty());
  const app = await oidc.registerClient(server, {
    clientId: "app",
    name: "Example App",
    redirectUris: [rp.callback("app")],
  });
  const chromium = stack.use(await launchBrowser(server.certPem));
  const page = await chromium.browser.newPage();
  await page.setViewport({ width: 420, height: 900 });
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/.test(message.text())) violations.push(message.text());
  });
  const cdp = await page.createCDPSession();
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const noAutofill = await page.evaluateOnNewDocument(
    "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);",
  );
  /** Opens the app's authorization URL; returns the PKCE verifier for the code. */
  const authorize = async (params: Record<string, string> = {}) => {
    const { verifier, challenge } = await oidc.pkce();
    const url = oidc.authorizeUrl(server, app, { code_challenge: challenge, ...params });
    await page.goto(url, { waitUntil: "load" });
    return verifier;
  };
  /** The ID token's claims for the code the browser was sent back with. */
  const idToken = async (verifier: string) => {
    const callback = new URL(page.url());
    assert.equal(callback.origin, rp.origin, `back at the app, not ${page.url()}`);
    const code = callback.searchParams.get("code")!;
    const { res, body } = await oidc.redeem(server, app, code, verifier);
    assert.equal(res.status, 200, JSON.stringify(body));
    return decodeJwt(body.id_token as string);
  };
  const owned = stack.move();
  return {
    server,
    rp,
    app,
    page,
    violations,
    authorize,
    idToken,
    signOut: () => cdp.send("Network.clearBrowserCookies"),
    autofill: () => page.removeScriptToEvaluateOnNewDocument(noAutofill.identifier),
    /** Puts a credential into the virtual authenticator, as if made elsewhere. */
    addCredential: (credential: Protocol.WebAuthn.Credential) =>
      cdp.send("WebAuthn.addCredential", { authenticatorId, credential }),
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/** Signs in with the password on the sign-in page the browser shows. */
async function passwordSignIn(page: Page): Promise<void> {
  await page.locator("#username").fill("alice");
  await page.locator("#password").fill(PASSWORD);
  await navigating(page, () => page.click("form[action='/sign-in'] button"));
}

/** Signs in with the password at the app's request, and adds a passkey named "Virtual key". */
async function signInAndAddPasskey(browser: Awaited<ReturnType<typeof setUp>>): Promise<void> {
  const { page, server, rp } = browser;
  await browser.authorize();
  await passwordSignIn(page);
  assert.equal(new URL(page.url()).origin, rp.origin);
  await addPasskey(page, server, "Virtual key");
}

/** Adds a passkey named `name` on the account page. */
async function addPasskey(page: Page, server: TestServer, name: string): Promise<void> {
  await page.goto(`${server.url}/account`, { waitUntil: "load" });
  await page.locator("#passkey-name").fill(name);
  await navigating(page, () => page.click("#add-passkey button"));
  assert.equal(await page.title(), "Add a passkey");
  await navigating(page, () => page.click("#create-passkey"));
  assert.match(await page.content(), /Your passkey is added/);
}

function methods(claims: Record<string, unknown>): string[] {
  assert.ok(Array.isArray(claims.amr), JSON.stringify(claims));
  return claims.amr;
}

testNeeding([CHROMIUM], {
  name:
    "Chromium registers a passkey on the account page and signs in with it alone, by the button and by autofill; a removed one no more",
  ...OPTIONS,
  async fn() {
    await using browser = await setUp();
    const { server, rp, page, authorize, idToken, signOut } = browser;
    await signInAndAddPasskey(browser);
    assert.deepEqual(
      await page.$$eval(".passkey-name", (names) => names.map((name) => name.textContent)),
      ["Virtual key"],
    );
    await screenshot(page, "account_page_passkeys");
    const [stored] = await server.store.listPasskeys(await subjectOf(server, "alice"));
    assert.equal(stored.userVerified, true);
    assert.equal(stored.backupEligible, false);

    // Signed out as a person does it, on the account page.
    await navigating(page, () => page.click("form:has(input[name=everywhere]) button"));
    assert.equal(await page.title(), "Signed out everywhere");
    let verifier = await authorize();
    assert.equal(
      await page.$eval("#username", (input) => input.getAttribute("autocomplete")),
      "username webauthn",
    );
    await screenshot(page, "sign_in_page_passkey");
    await navigating(page, () => page.click("#passkey-button"));
    const claims = await idToken(verifier);
    assert.deepEqual(methods(claims), ["hwk", "user", "mfa"]);
    assert.equal(claims.acr, "urn:auth-api:aal2");
    assert.equal(claims.sub, stored.subject);

    // Autofill: the username field's conditional request, answered by the authenticator as a
    // person picks the passkey from the list, signs in with no click at all.
    await signOut();
    await browser.autofill();
    verifier = await authorize();
    await waitFor("the autofill sign-in", () => page.url().startsWith(rp.origin));
    assert.deepEqual(methods(await idToken(verifier)), ["hwk", "user", "mfa"]);

    // Removed, the passkey signs in no more (the authenticator still offers it).
    await page.goto(`${server.url}/account`, { waitUntil: "load" });
    await navigating(page, () => page.click("button.remove-passkey"));
    assert.match(await page.content(), /Your passkey is removed/);
    await signOut();
    await authorize();
    await waitFor(
      "the refused autofill",
      () => page.content().then((html) => /not accepted/.test(html), () => false),
    );
    assert.equal(await page.title(), "Sign in");
    assert.equal(new URL(page.url()).origin, server.url);
    assert.deepEqual(browser.violations, []);
  },
});

testNeeding([CHROMIUM], {
  name:
    "Chromium's passkey assertion captured and posted again is refused, and posted twice at once signs in once",
  ...OPTIONS,
  async fn() {
    await using browser = await setUp();
    const { server, rp, page, authorize, signOut } = browser;
    await signInAndAddPasskey(browser);

    /** Clicks the passkey button and captures the form it posts (continued or held back). */
    const capture = async (hold: boolean) => {
      await signOut();
      await authorize();
      const [cookie] = await page.cookies(server.url);
      let seen = false;
      const posted = Promise.withResolvers<string>();
      const listener = (request: HTTPRequest) => {
        if (seen || !request.url().endsWith("/sign-in/passkey")) return void request.continue();
        seen = true;
        posted.resolve(request.postData() ?? "");
        void (hold ? request.abort() : request.continue());
      };
      page.on("request", listener);
      await page.setRequestInterception(true);
      await page.click("#passkey-button");
      const body = await posted.promise;
      if (!hold) await waitFor("back at the app", () => page.url().startsWith(rp.origin));
      page.off("request", listener);
      await page.setRequestInterception(false);
      return { body: Object.fromEntries(new URLSearchParams(body)), cookie: cookie.value };
    };
    const replay = (captured: { body: Record<string, string>; cookie: string }) => {
      const again = new oidc.CookieBrowser(server);
      again.cookie = captured.cookie;
      return again.post("/sign-in/passkey", captured.body);
    };

    const used = await capture(false);
    assert.ok(used.body.credential.includes("authenticatorData"));
    const replayed = await replay(used);
    assert.equal(replayed.status, 400);
    assert.match(await replayed.text(), /expired or was already used/);

    const held = await capture(true);
    const results = await Promise.all([replay(held), replay(held), replay(held)]);
    const statuses = results.map((res) => res.status);
    await Promise.all(results.map((res) => res.body?.cancel()));
    assert.deepEqual(statuses.toSorted(), [303, 400, 400]);
  },
});

testNeeding([CHROMIUM], {
  name: "Chromium's passkey is asked for as the second factor after the password",
  ...OPTIONS,
  async fn() {
    await using browser = await setUp();
    const { page, authorize, idToken, signOut } = browser;
    await signInAndAddPasskey(browser);

    await signOut();
    const verifier = await authorize();
    await passwordSignIn(page);
    assert.equal(await page.title(), "Use your passkey");
    await screenshot(page, "second_factor_passkey");
    await navigating(page, () => page.click("#passkey-button"));
    assert.deepEqual(methods(await idToken(verifier)), ["pwd", "hwk", "user", "mfa"]);
    assert.deepEqual(browser.violations, []);
  },
});

testNeeding([CHROMIUM], {
  name:
    "Chromium offers no passkey made for another RP ID, even with the account's user handle: none is used, nobody signs in",
  ...OPTIONS,
  async fn() {
    await using browser = await setUp();
    const { server, page, authorize } = browser;
    const subject = await subjectOf(server, "alice");
    const keys = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["sign", "verify"],
    ) as CryptoKeyPair;
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    const credentialId = crypto.getRandomValues(new Uint8Array(16));
    await browser.addCredential({
      credentialId: credentialId.toBase64(),
      isResidentCredential: true,
      rpId: "other.example",
      privateKey: pkcs8.toBase64(),
      userHandle: new TextEncoder().encode(subject).toBase64(),
      signCount: 0,
    });
    await authorize();
    await page.click("#passkey-button");
    await page.waitForSelector(".passkey-error:not([hidden])");
    assert.equal(await page.title(), "Sign in");
    assert.match(
      await page.$eval(".passkey-error", (note) => note.textContent ?? ""),
      /No passkey was used/,
    );
    assert.equal(server.logs.filter((line) => line.event === "passkey_succeeded").length, 0);
  },
});

testNeeding([CHROMIUM], {
  name:
    "With MFA_REQUIRED, Chromium makes a passkey on the second-factor step instead of an app; the app's ID token says so, and the next sign-in asks for it",
  ...OPTIONS,
  async fn() {
    await using browser = await setUp({ MFA_REQUIRED: "true" });
    const { page, authorize, idToken, signOut, violations } = browser;
    let verifier = await authorize();
    await passwordSignIn(page);
    assert.equal(await page.title(), "Set up two-step sign-in");
    await navigating(page, () => page.click("#create-passkey"));
    const claims = await idToken(verifier);
    assert.deepEqual(methods(claims).toSorted(), ["hwk", "mfa", "pwd", "user"]);

    await signOut();
    verifier = await authorize();
    await passwordSignIn(page);
    assert.equal(await page.title(), "Use your passkey");
    await navigating(page, () => page.click("#passkey-button"));
    assert.deepEqual(methods(await idToken(verifier)).toSorted(), ["hwk", "mfa", "pwd", "user"]);
    assert.deepEqual(violations, []);
  },
});
