/**
 * @module
 * The second factor in a real browser (Debian's Chromium, headless, driven by puppeteer-core):
 * the account page draws its QR code under the page's CSP without a single violation, an
 * authenticator app set up with a code from `oathtool` is asked for at the next sign-in, and the
 * pages are screenshotted to tests/screenshots/.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { launchBrowser, screenshot } from "./helpers/browser.ts";
import { authorizeUrl, PASSWORD, pkce, registerClient, RelyingParty } from "./helpers/oidc.ts";
import { CHROMIUM, OATHTOOL, testNeeding } from "./helpers/prerequisites.ts";
import { nowSeconds, oathtoolCode } from "./helpers/second_factor.ts";
import { startTestServer } from "./helpers/server.ts";

/** Clicks the submit button `selector` and waits for the page it loads. */
async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(selector)]);
}

testNeeding([CHROMIUM, OATHTOOL], {
  name:
    "Chromium sets up an authenticator app on the account page and is asked for its code at the next sign-in",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using server = await startTestServer({ users: { alice: PASSWORD } });
    await using rp = new RelyingParty();
    const app = await registerClient(server, {
      clientId: "app",
      name: "Example App",
      redirectUris: [rp.callback("app")],
    });
    await using chromium = await launchBrowser(server.certPem);
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 420, height: 720 });
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/.test(message.text())) {
        violations.push(message.text());
      }
    });
    const authorize = async (params: Record<string, string> = {}) =>
      authorizeUrl(server, app, { code_challenge: (await pkce()).challenge, ...params });

    await page.goto(await authorize(), { waitUntil: "load" });
    await page.locator("#username").fill("alice");
    await page.locator("#password").fill(PASSWORD);
    await submit(page, "button");
    assert.equal(new URL(page.url()).origin, rp.origin, "the password alone signs in for now");

    await page.goto(`${server.url}/account`, { waitUntil: "load" });
    assert.equal(await page.title(), "Your account");
    const visible = await page.$$eval(
      "input:not([type=hidden])",
      (inputs) => inputs.filter((input) => input.offsetParent !== null).map((input) => input.id),
    );
    assert.deepEqual(visible, ["passkey-name", "current-password", "new-password"]);
    await screenshot(page, "account_page");
    await submit(page, "form[action='/account/totp'] button");
    assert.equal(await page.title(), "Set up an authenticator app");
    const box = await page.$eval("svg.qr-code", (svg) => svg.getBoundingClientRect().width);
    assert.ok(box >= 150, `the QR code is drawn, ${box} px wide`);
    const secret = await page.$eval("#totp-secret", (code) => code.textContent ?? "");
    await screenshot(page, "totp_enrolment_page");
    await page.locator("#code").fill(await oathtoolCode(secret, nowSeconds()));
    await submit(page, "button");
    assert.equal(await page.title(), "Your recovery codes");
    assert.equal(await page.$$eval("ul.recovery-codes li", (items) => items.length), 10);

    await page.goto(await authorize({ prompt: "login" }), { waitUntil: "load" });
    await page.locator("#username").fill("alice");
    await page.locator("#password").fill(PASSWORD);
    await submit(page, "button");
    assert.equal(await page.title(), "Enter your code");
    assert.equal(await page.$eval("#code", (input) => input.autocomplete), "one-time-code");
    assert.equal(await page.$$eval("script", (scripts) => scripts.length), 0);
    await screenshot(page, "second_factor_page");
    await page.locator("#code").fill(await oathtoolCode(secret, nowSeconds() + 30));
    await submit(page, "button");
    const callback = new URL(page.url());
    assert.equal(callback.origin, rp.origin);
    assert.ok(callback.searchParams.get("code"));
    assert.deepEqual(violations, []);
  },
});
