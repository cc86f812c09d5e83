/**
 * @module
 * The device flow with clients nobody here wrote: openid-client 6 (`initiateDeviceAuthorization`
 * and `pollDeviceAuthorizationGrant`, through the README's example) polls while headless Chromium
 * (puppeteer-core) opens `verification_uri_complete`, submits the code, signs in and approves;
 * the device page is screenshotted to tests/screenshots/.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { launchBrowser, screenshot } from "./helpers/browser.ts";
import * as device from "./helpers/device.ts";
import { PASSWORD } from "./helpers/oidc.ts";
import { CHROMIUM, testNeeding } from "./helpers/prerequisites.ts";
import { hello, startTestServer, subjectOf } from "./helpers/server.ts";
import { discover } from "./openid_client_example.ts";
import { signInDevice } from "./openid_client_device_example.ts";

/** Clicks `selector` and waits for the page it loads. */
async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(selector)]);
}

/**
 * A server with alice and the public device client "tv", openid-client configured for it, and
 * a Chromium page; all of it stops on dispose.
 */
async function setUp() {
  await using stack = new AsyncDisposableStack();
  const server = stack.use(await startTestServer({ users: { alice: PASSWORD } }));
  await device.registerDeviceClient(server, "tv");
  const chromium = stack.use(await launchBrowser(server.certPem));
  const page = await chromium.browser.newPage();
  const config = await discover(new URL(server.url), "tv", server.client);
  const owned = stack.move();
  return { server, page, config, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/** Submits the code the device page shows, then signs in as alice on the page that follows. */
async function submitCodeAndSignIn(page: Page): Promise<void> {
  await submit(page, "button[type=submit]");
  await page.type("#username", "alice");
  await page.type("#password", PASSWORD);
  await submit(page, "button[type=submit]");
}

testNeeding([CHROMIUM], {
  name:
    "openid-client polls the device grant while Chromium enters the code, signs in and approves",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using devices = await setUp();
    const { server, page, config } = devices;
    await page.setViewport({ width: 420, height: 760 });
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/.test(message.text())) {
        violations.push(message.text());
      }
    });

    let approval: Promise<string> | undefined;
    const tokens = await signInDevice(config, (code) => {
      assert.equal(code.verification_uri, `${server.url}/device`);
      approval = (async () => {
        await page.goto(code.verification_uri_complete!, { waitUntil: "load" });
        const filled = await page.$eval("#user_code", (input) => input.getAttribute("value"));
        assert.equal(filled, code.user_code, "the link fills the code in");
        await screenshot(page, "device-code");
        await submitCodeAndSignIn(page);
        const confirmation = await page.content();
        assert.match(confirmation, /Connect this device\?/);
        assert.ok(confirmation.includes(code.user_code));
        await screenshot(page, "device-confirmation");
        await submit(page, "button[value=approve]");
        return await page.content();
      })();
    });
    assert.ok(approval, "the code was shown");
    assert.match(await approval, /Device connected/);
    assert.deepEqual(violations, []);

    assert.equal(tokens.claims()?.sub, await subjectOf(server, "alice"));
    assert.equal(tokens.scope, "openid hello");
    assert.equal(typeof tokens.refresh_token, "string");
    const greeted = await hello(server, `Bearer ${tokens.access_token}`);
    assert.equal(greeted.res.status, 200);
  },
});

testNeeding([CHROMIUM], {
  name: "openid-client is told AccessDenied when the person denies the device in Chromium",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using devices = await setUp();
    const { page, config } = devices;
    let denial: Promise<void> | undefined;
    await assert.rejects(
      signInDevice(config, (code) => {
        denial = (async () => {
          await page.goto(code.verification_uri, { waitUntil: "load" });
          await page.type("#user_code", code.user_code.toLowerCase().replace("-", " "));
          await submitCodeAndSignIn(page);
          await submit(page, "button[value=deny]");
        })();
      }),
      (error: { error?: string }) => error.error === "access_denied",
    );
    await denial;
  },
});
