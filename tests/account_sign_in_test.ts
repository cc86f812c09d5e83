/**
 * @module
 * The account page's own sign-in over HTTPS: a browser that is not signed in is sent to it and
 * comes back to the page, with the second factor where the account has one; a signed-in browser
 * passes through; `prompt=login` asks again (re-authentication) and makes a stale session fresh
 * for sensitive changes. No code is issued and no client is involved.
 */
import assert from "node:assert/strict";
import { CookieBrowser, formFields, PASSWORD } from "./helpers/oidc.ts";
import { accountPage, enrolTotp, nowSeconds, oathtoolCode } from "./helpers/second_factor.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const ACCOUNT_SIGN_IN = "/account/sign-in";

async function setUp(): Promise<TestServer> {
  return await startTestServer({ users: { alice: PASSWORD, bob: "bob-password-1" } });
}

/** Opens `/account` as `browser`: the 303 to the account sign-in and that sign-in page. */
async function accountSignInPage(browser: CookieBrowser): Promise<string> {
  const overview = await browser.get(`${browser.server.url}/account`);
  await overview.body?.cancel();
  assert.equal(overview.status, 303);
  assert.equal(overview.headers.get("location"), ACCOUNT_SIGN_IN);
  const page = await browser.get(`${browser.server.url}${ACCOUNT_SIGN_IN}`);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(html, /<h1>Sign in<\/h1>/);
  assert.match(html, /your account/);
  return html;
}

/** Signs `browser` in to the account page with a password alone; asserts it goes back there. */
async function signInToAccount(
  server: TestServer,
  browser: CookieBrowser,
  username = "alice",
  password = PASSWORD,
): Promise<void> {
  const html = await accountSignInPage(browser);
  const res = await browser.signIn(formFields(html), username, password);
  await res.body?.cancel();
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), `${server.url}/account`);
}

Deno.test("The account page signs a browser in on its own and comes back, without any client or code", async () => {
  await using server = await setUp();
  const browser = new CookieBrowser(server);

  // A wrong password shows the page again, with the username kept.
  const html = await accountSignInPage(browser);
  const wrong = await browser.signIn(formFields(html), "alice", "not-the-password");
  const again = await wrong.text();
  assert.equal(wrong.status, 400, again);
  assert.match(again, /value="alice"/);

  const res = await browser.signIn(formFields(again), "alice", PASSWORD);
  await res.body?.cancel();
  assert.equal(res.status, 303);
  const location = new URL(res.headers.get("location")!);
  assert.equal(location.href, `${server.url}/account`, "no code, no state, no iss");
  const page = await accountPage(browser);
  assert.equal(page.res.status, 200, page.html);
  assert.match(page.html, /Signed in as <strong>alice<\/strong>/);

  // Signed in, the account sign-in passes straight through.
  const through = await browser.get(`${server.url}${ACCOUNT_SIGN_IN}`);
  await through.body?.cancel();
  assert.equal(through.status, 303);
  assert.equal(through.headers.get("location"), `${server.url}/account`);
  assert.ok(server.logs.every((line) => (line.status as number ?? 0) < 500));
  assert.ok(!server.logs.some((line) => line.event === "code_issued"));
});

Deno.test("The account sign-in form is used once: posted twice at once, one browser session starts", async () => {
  await using server = await setUp();
  for (let round = 0; round < 5; round++) {
    const browser = new CookieBrowser(server);
    const fields = formFields(await accountSignInPage(browser));
    const answers = await Promise.all([
      browser.signIn(fields, "alice", PASSWORD),
      browser.signIn(fields, "alice", PASSWORD),
    ]);
    for (const res of answers) await res.body?.cancel();
    assert.deepEqual(answers.map((res) => res.status).sort(), [303, 400], `round ${round}`);
  }
  // A form shown to one browser cannot be posted by another (CSRF bound to the cookie).
  const shown = new CookieBrowser(server);
  const fields = formFields(await accountSignInPage(shown));
  const other = new CookieBrowser(server);
  const refused = await other.signIn(fields, "alice", PASSWORD);
  await refused.body?.cancel();
  assert.equal(refused.status, 403);
});

Deno.test("An account with a second factor signs in to its page with the code after the password", async () => {
  await using server = await setUp();
  const first = new CookieBrowser(server);
  await signInToAccount(server, first);
  const { secret, confirmedAt } = await enrolTotp(first);

  const browser = new CookieBrowser(server);
  const html = await accountSignInPage(browser);
  const password = await browser.signIn(formFields(html), "alice", PASSWORD);
  const codePage = await password.text();
  assert.equal(password.status, 200, codePage);
  assert.match(codePage, /name="code"/);
  assert.equal((await accountPage(browser)).res.status, 303, "not signed in on the password");

  // A step later than the enrolment's, which can never be accepted twice.
  const at = Math.max(nowSeconds(), confirmedAt + 30);
  const code = await oathtoolCode(secret, at);
  const realNow = Date.now;
  Date.now = () => Math.max(realNow(), at * 1000);
  try {
    const done = await browser.post("/sign-in/second-factor", { ...formFields(codePage), code });
    await done.body?.cancel();
    assert.equal(done.status, 303);
    assert.equal(done.headers.get("location"), `${server.url}/account`);
    assert.equal((await accountPage(browser)).res.status, 200);
  } finally {
    Date.now = realNow;
  }
});

Deno.test("Sign in again (prompt=login) asks for the password even when signed in, and makes a stale session fresh for sensitive changes", async () => {
  await using server = await setUp();
  const browser = new CookieBrowser(server);
  await signInToAccount(server, browser);
  const realNow = Date.now;
  // Eleven minutes later, the session still alive: setting up an app needs a fresh sign-in.
  Date.now = () => realNow() + 11 * 60 * 1000;
  try {
    const page = await accountPage(browser);
    assert.match(page.html, /action="\/account\/sign-in"/);
    const stale = await browser.post("/account/totp", { ...formFields(page.html) });
    const refused = await stale.text();
    assert.equal(stale.status, 400, refused);
    assert.match(refused, /too long ago/);
    assert.match(refused, /<form method="get" action="\/account\/sign-in">/);
    assert.match(refused, /name="prompt" value="login"/);

    const again = await browser.get(`${server.url}${ACCOUNT_SIGN_IN}?prompt=login`);
    const signInPage = await again.text();
    assert.equal(again.status, 200, signInPage);
    assert.match(signInPage, /<h1>Sign in<\/h1>/);
    const res = await browser.signIn(formFields(signInPage), "alice", PASSWORD);
    await res.body?.cancel();
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), `${server.url}/account`);

    const fresh = await accountPage(browser);
    const started = await browser.post("/account/totp", { ...formFields(fresh.html) });
    const enrolment = await started.text();
    assert.equal(started.status, 200, enrolment);
    assert.match(enrolment, /totp-secret/);
  } finally {
    Date.now = realNow;
  }
});

Deno.test("Signing in again as someone else on the account page shows that person's account, never mixes the two", async () => {
  await using server = await setUp();
  const browser = new CookieBrowser(server);
  await signInToAccount(server, browser);
  const again = await browser.get(`${server.url}${ACCOUNT_SIGN_IN}?prompt=login`);
  const html = await again.text();
  const res = await browser.signIn(formFields(html), "bob", "bob-password-1");
  await res.body?.cancel();
  assert.equal(res.status, 303);
  const page = await accountPage(browser);
  assert.match(page.html, /Signed in as <strong>bob<\/strong>/);
  assert.doesNotMatch(page.html, /alice/);
});
