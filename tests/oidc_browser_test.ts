/**
 * @module
 * Sign-in from a real browser with a certified relying-party library: headless Chromium (Debian's
 * chromium, driven by puppeteer-core) fills the real forms, and openid-client runs discovery,
 * builds the authorization URL with PKCE and a nonce, exchanges the code, validates the ID
 * token, calls /userinfo, refreshes and logs out. Screenshots of the sign-in and consent pages
 * go to tests/screenshots/.
 */
import assert from "node:assert/strict";
import * as oidc from "openid-client";
import type { Page } from "puppeteer-core";
import { accessTokenHash } from "../src/auth/sign_in/id_tokens.ts";
import { SESSION_COOKIE } from "../src/http/cookies.ts";
import { launchBrowser, screenshot } from "./helpers/browser.ts";
import { PASSWORD, registerClient, RelyingParty } from "./helpers/oidc.ts";
import { checksOf, discoverAs, startAuthorization } from "./helpers/openid_client.ts";
import { CHROMIUM, testNeeding } from "./helpers/prerequisites.ts";
import { startTestServer, subjectOf } from "./helpers/server.ts";

const USERS = { alice: PASSWORD };

/** Navigates and waits until the browser has arrived at the relying party (or errs). */
async function navigate(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: "load" });
}

async function fillSignIn(page: Page, username: string, password: string): Promise<void> {
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(password);
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("button")]);
}

async function sessionCookieOf(page: Page) {
  const cookies = await page.browserContext().cookies();
  return cookies.find((cookie) => cookie.name === SESSION_COOKIE);
}

testNeeding([CHROMIUM], {
  name:
    "Chromium signs in through the real form; openid-client exchanges the code, validates the ID token, calls /userinfo, refreshes; a second client gets single sign-on; logout ends it all",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using server = await startTestServer({ users: USERS });
    await using rp = new RelyingParty();
    const app = await registerClient(server, {
      clientId: "app",
      name: "Example App",
      redirectUris: [rp.callback("app")],
      postLogoutRedirectUris: [rp.signedOut],
    });
    const other = await registerClient(server, {
      clientId: "other-app",
      redirectUris: [rp.callback("other")],
    });
    await using chromium = await launchBrowser(server.certPem);
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 420, height: 640 });
    const config = await discoverAs(server, app.clientId);
    assert.equal(config.serverMetadata().issuer, server.url);

    const started = await startAuthorization(config, app.redirectUri);
    let tokens!: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    let refreshToken = "";
    let cookieBefore: string | undefined;

    await t.step(
      "the sign-in page is plain, labelled, styled by our stylesheet, with no script but our own",
      async () => {
        await navigate(page, started.url.href);
        assert.equal(await page.title(), "Sign in");
        cookieBefore = (await sessionCookieOf(page))?.value;
        assert.ok(cookieBefore, "the page binds itself to the browser with the cookie");
        const fields = await page.$$eval(
          "input:not([type=hidden])",
          (inputs) =>
            inputs.map((input) => ({
              id: input.id,
              type: input.getAttribute("type"),
              autocomplete: input.getAttribute("autocomplete"),
              label: input.ownerDocument.querySelector(`label[for="${input.id}"]`)?.textContent,
            })),
        );
        assert.deepEqual(fields, [
          {
            id: "username",
            type: "text",
            autocomplete: "username webauthn",
            label: "Username",
          },
          {
            id: "password",
            type: "password",
            autocomplete: "current-password",
            label: "Password",
          },
        ]);
        // Only the service's own passkey script, nothing inline.
        assert.deepEqual(
          await page.$$eval(
            "script",
            (scripts) => scripts.map((script) => [new URL(script.src).pathname, script.text]),
          ),
          [["/assets/passkeys.js", ""]],
        );
        const styled = await page.$eval(
          "button",
          (button) => button.ownerDocument.defaultView!.getComputedStyle(button).display,
        );
        assert.equal(styled, "block", "the stylesheet was loaded under the page's CSP");
        assert.match(await page.$eval(".lead", (lead) => lead.textContent ?? ""), /Example App/);
        await screenshot(page, "login_page");
      },
    );

    await t.step("a wrong password shows one generic message and keeps the username", async () => {
      await fillSignIn(page, "alice", "not-the-password");
      assert.equal(await page.title(), "Sign in");
      assert.equal(
        await page.$eval("[role=alert]", (alert) => alert.textContent),
        "Invalid username or password",
      );
      assert.equal(await page.$eval("#username", (input) => input.value), "alice");
      assert.equal(await page.$eval("#password", (input) => input.value), "");
    });

    await t.step("signing in lands on the client with a code, state and iss", async () => {
      await page.locator("#password").fill(PASSWORD);
      await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("button")]);
      const landed = new URL(page.url());
      assert.equal(`${landed.origin}${landed.pathname}`, app.redirectUri);
      assert.equal(landed.searchParams.get("state"), started.state);
      assert.equal(landed.searchParams.get("iss"), server.url);
      tokens = await oidc.authorizationCodeGrant(config, landed, {
        ...checksOf(started),
        idTokenExpected: true,
      });
    });

    await t.step(
      "the session cookie is __Host-, HttpOnly, Secure, SameSite=Lax, and new after sign-in",
      async () => {
        const cookie = await sessionCookieOf(page);
        assert.ok(cookie);
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.secure, true);
        assert.equal(cookie.sameSite, "Lax");
        assert.equal(cookie.path, "/");
        assert.equal(cookie.domain, "localhost", "host-only");
        assert.notEqual(cookie.value, cookieBefore, "no session fixation");
      },
    );

    await t.step(
      "openid-client validated the ID token: RS256, claims, nonce, at_hash",
      async () => {
        const claims = tokens.claims()!;
        assert.equal(claims.iss, server.url);
        assert.equal(claims.sub, await subjectOf(server, "alice"));
        assert.equal(claims.aud, app.clientId);
        assert.equal(claims.nonce, started.nonce);
        assert.equal(typeof claims.auth_time, "number");
        assert.equal(typeof claims.sid, "string");
        assert.ok(claims.exp > claims.iat);
        assert.equal(claims.at_hash, await accessTokenHash(tokens.access_token));
        const header = JSON.parse(atob(tokens.id_token!.split(".")[0]));
        assert.equal(header.alg, "RS256");
        assert.equal(tokens.scope, "openid profile");
      },
    );

    await t.step("/userinfo answers sub and preferred_username; refresh rotates", async () => {
      const sub = await subjectOf(server, "alice");
      const info = await oidc.fetchUserInfo(config, tokens.access_token, sub);
      assert.deepEqual(info, { sub, preferred_username: "alice" });
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
      assert.equal(refreshed.scope, "openid profile");
      refreshToken = refreshed.refresh_token!;
    });

    let otherRefresh = "";
    await t.step("a second client signs in without the form (single sign-on)", async () => {
      const otherConfig = await discoverAs(server, other.clientId);
      const second = await startAuthorization(otherConfig, other.redirectUri);
      await navigate(page, second.url.href);
      const landed = new URL(page.url());
      assert.equal(`${landed.origin}${landed.pathname}`, other.redirectUri, "no sign-in page");
      const otherTokens = await oidc.authorizationCodeGrant(otherConfig, landed, {
        ...checksOf(second),
        idTokenExpected: true,
      });
      assert.equal(otherTokens.claims()!.sid, tokens.claims()!.sid, "one browser session");
      assert.equal(otherTokens.claims()!.auth_time, tokens.claims()!.auth_time);
      otherRefresh = otherTokens.refresh_token!;
    });

    await t.step(
      "RP-initiated logout ends the browser session and both clients' refresh tokens",
      async () => {
        const logoutState = oidc.randomState();
        const endSession = oidc.buildEndSessionUrl(config, {
          id_token_hint: tokens.id_token!,
          post_logout_redirect_uri: rp.signedOut,
          state: logoutState,
        });
        await navigate(page, endSession.href);
        const landed = new URL(page.url());
        assert.equal(`${landed.origin}${landed.pathname}`, rp.signedOut);
        assert.equal(landed.searchParams.get("state"), logoutState);
        assert.equal(await sessionCookieOf(page), undefined, "the cookie is gone");
        for (const token of [refreshToken, otherRefresh]) {
          await assert.rejects(
            oidc.refreshTokenGrant(config, token),
            (error: { error?: string }) => error.error === "invalid_grant",
          );
        }
        const again = await startAuthorization(config, app.redirectUri);
        await navigate(page, again.url.href);
        assert.equal(await page.title(), "Sign in", "signed out: the form is back");
      },
    );
  },
});

testNeeding([CHROMIUM], {
  name:
    "Chromium: a third-party client gets the consent page once; prompt=none without a session answers login_required",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using server = await startTestServer({ users: USERS });
    await using rp = new RelyingParty();
    const third = await registerClient(server, {
      clientId: "partner",
      name: "Partner Dashboard",
      redirectUris: [rp.callback("partner")],
      firstParty: false,
      public: false,
    });
    await using chromium = await launchBrowser(server.certPem);
    const config = await discoverAs(server, third.clientId, third.secret);

    await t.step("prompt=none in a browser without a session answers login_required", async () => {
      const page = await chromium.browser.newPage();
      const started = await startAuthorization(config, third.redirectUri, {
        params: { prompt: "none" },
      });
      await navigate(page, started.url.href);
      const landed = new URL(page.url());
      assert.equal(`${landed.origin}${landed.pathname}`, third.redirectUri);
      assert.equal(landed.searchParams.get("error"), "login_required");
      assert.equal(landed.searchParams.get("state"), started.state);
      assert.equal(landed.searchParams.get("iss"), server.url);
      await page.close();
    });

    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 420, height: 640 });
    await t.step(
      "after sign-in the consent page lists the scopes; Allow sends the code",
      async () => {
        const started = await startAuthorization(config, third.redirectUri, {
          params: { scope: "openid profile hello" },
        });
        await navigate(page, started.url.href);
        await fillSignIn(page, "alice", PASSWORD);
        assert.equal(await page.title(), "Allow access");
        const scopes = await page.$$eval(".scope-name", (names) => names.map((n) => n.textContent));
        assert.deepEqual(scopes, ["(openid)", "(profile)", "(hello)"]);
        assert.match(
          await page.$eval(".lead", (lead) => lead.textContent ?? ""),
          /Partner Dashboard/,
        );
        await screenshot(page, "consent_page");
        await Promise.all([
          page.waitForNavigation({ waitUntil: "load" }),
          page.click("button[value=allow]"),
        ]);
        const tokens = await oidc.authorizationCodeGrant(
          config,
          new URL(page.url()),
          checksOf(started),
        );
        assert.equal(tokens.scope, "openid profile hello");
      },
    );

    await t.step(
      "the consent is remembered: the next authorization goes straight back",
      async () => {
        const started = await startAuthorization(config, third.redirectUri, {
          params: { scope: "openid" },
        });
        await navigate(page, started.url.href);
        const landed = new URL(page.url());
        assert.equal(`${landed.origin}${landed.pathname}`, third.redirectUri);
        assert.ok(landed.searchParams.get("code"));
      },
    );

    await t.step("Deny sends access_denied", async () => {
      const started = await startAuthorization(config, third.redirectUri, {
        params: { prompt: "consent" },
      });
      await navigate(page, started.url.href);
      assert.equal(await page.title(), "Allow access");
      await Promise.all([
        page.waitForNavigation({ waitUntil: "load" }),
        page.click("button[value=deny]"),
      ]);
      const landed = new URL(page.url());
      assert.equal(landed.searchParams.get("error"), "access_denied");
      assert.equal(landed.searchParams.get("state"), started.state);
    });
  },
});

testNeeding([CHROMIUM], {
  name: "Chromium refuses to show the sign-in page in a frame of another site",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using server = await startTestServer({ users: USERS });
    await using rp = new RelyingParty();
    const app = await registerClient(server, {
      clientId: "app",
      redirectUris: [rp.callback("app")],
    });
    await using chromium = await launchBrowser(server.certPem);
    const page = await chromium.browser.newPage();
    const config = await discoverAs(server, app.clientId);
    const started = await startAuthorization(config, app.redirectUri);
    const blocked = new Promise<string>((resolve) => {
      page.on("console", (message) => {
        if (/frame-ancestors|X-Frame-Options/.test(message.text())) resolve(message.text());
      });
    });
    await navigate(page, rp.framing(started.url.href));
    const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
    assert.ok(frame, "the iframe exists");
    // The framed document is Chromium's error page, never our form.
    assert.equal(await frame.$("#password"), null);
    assert.match(await blocked, /frame-ancestors 'none'/);
  },
});
