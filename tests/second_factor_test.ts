/**
 * @module
 * The authenticator-app second factor over HTTPS, with codes computed by `oathtool`: set up on
 * the account page, asked for after the password, each code accepted once, recovery codes once,
 * guessing throttled (in parallel too), and no way in on the password alone.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import * as oidc from "./helpers/oidc.ts";
import { OATHTOOL, testNeeding } from "./helpers/prerequisites.ts";
import { accountPage, enrolTotp, nowSeconds, oathtoolCode } from "./helpers/second_factor.ts";
import { runCli } from "./helpers/process.ts";
import { login, startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { alice: oidc.PASSWORD, bob: "bob-password-1" };
const REDIRECT_URI = "https://app.example/callback";

async function setUp(
  env: Record<string, string> = {},
): Promise<{ server: TestServer; app: oidc.TestClient }> {
  const server = await startTestServer({ users: USERS, env });
  const app = await oidc.registerClient(server, { clientId: "app", redirectUris: [REDIRECT_URI] });
  return { server, app };
}

/** A browser that signed in alice with her password alone (before any second factor). */
async function signedIn(server: TestServer, app: oidc.TestClient): Promise<oidc.CookieBrowser> {
  const browser = new oidc.CookieBrowser(server);
  const url = oidc.authorizeUrl(server, app, { code_challenge: (await oidc.pkce()).challenge });
  const res = await browser.signIn(await browser.signInPage(url), "alice", oidc.PASSWORD);
  assert.ok(oidc.redirectedTo(res, REDIRECT_URI).get("code"));
  return browser;
}

/** Opens an authorization and enters alice's password; returns the code page's HTML. */
async function passwordStep(
  server: TestServer,
  app: oidc.TestClient,
  browser = new oidc.CookieBrowser(server),
  params: Record<string, string> = {},
): Promise<{ browser: oidc.CookieBrowser; html: string; verifier: string }> {
  const { verifier, challenge } = await oidc.pkce();
  const url = oidc.authorizeUrl(server, app, { code_challenge: challenge, ...params });
  const res = await browser.signIn(await browser.signInPage(url), "alice", oidc.PASSWORD);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /<h1>Enter your code<\/h1>/);
  assert.equal(res.headers.get("location"), null);
  return { browser, html, verifier };
}

function postCode(browser: oidc.CookieBrowser, html: string, code: string): Promise<Response> {
  return browser.post("/sign-in/second-factor", { ...oidc.formFields(html), code });
}

function needsOathtool(name: string, fn: () => Promise<void>): void {
  testNeeding([OATHTOOL], { name, fn });
}

needsOathtool(
  "The account page sets up an authenticator app with a QR code, confirmed by one code",
  async () => {
    const { server, app } = await setUp();
    await using _ = server;
    const anonymous = await accountPage(new oidc.CookieBrowser(server));
    assert.equal(anonymous.res.status, 303, "to the account page's own sign-in");
    assert.equal(anonymous.res.headers.get("location"), "/account/sign-in");

    const browser = await signedIn(server, app);
    const overview = await accountPage(browser);
    assert.equal(overview.res.status, 200);
    const csp = overview.res.headers.get("content-security-policy")!;
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self';/, "the passkey script, from this origin only");
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(overview.html, /Two-step sign-in is <strong>off<\/strong>/);
    // The form is bound to this browser's session: another browser cannot post it.
    const other = await signedIn(server, app);
    const stolen = await other.post("/account/totp", { ...oidc.formFields(overview.html) });
    assert.equal(stolen.status, 403, await stolen.text());

    const started = await browser.post("/account/totp", { ...oidc.formFields(overview.html) });
    const page = await started.text();
    assert.equal(started.status, 200, page);
    assert.match(page, /<svg class="qr-code"[^>]*role="img"/);
    assert.doesNotMatch(page, /<script/);
    const secret = /id="totp-secret">([A-Z2-7]+)</.exec(page)![1];
    // Until confirmed, the factor does not count: the password alone still signs in.
    assert.equal((await login(server, "alice", oidc.PASSWORD)).res.status, 200);
    const replayedForm = await browser.post("/account/totp", { ...oidc.formFields(overview.html) });
    assert.equal(replayedForm.status, 400, "a form is used once");
    await replayedForm.body?.cancel();

    const wrong = await browser.post("/account/totp/confirm", {
      ...{ ...oidc.formFields(page) },
      code: "000000",
    });
    const wrongPage = await wrong.text();
    assert.equal(wrong.status, 400, wrongPage);
    assert.match(wrongPage, /Invalid code/);
    assert.match(wrongPage, new RegExp(secret), "the same secret is shown again");
    const confirmed = await browser.post("/account/totp/confirm", {
      ...{ ...oidc.formFields(wrongPage) },
      code: await oathtoolCode(secret, nowSeconds()),
    });
    const codes = await confirmed.text();
    assert.equal(confirmed.status, 200, codes);
    assert.equal([...codes.matchAll(/<li><code>/g)].length, 10);
    const after = await accountPage(browser);
    assert.match(after.html, /Two-step sign-in is <strong>on<\/strong>/);
    assert.match(after.html, /10 unused recovery codes left/);
    const audit = server.logs.map((line) => line.event);
    assert.ok(audit.includes("second_factor_enrolled"), JSON.stringify(audit));
    assert.ok(!server.rawLogs.some((line) => line.includes(secret)), "the secret is never logged");
  },
);

needsOathtool(
  "With a second factor, /login and the password grant answer mfa_required; the browser asks for the code",
  async () => {
    const { server, app } = await setUp();
    await using _ = server;
    const { secret, confirmedAt } = await enrolTotp(await signedIn(server, app));

    const { res, body } = await login(server, "alice", oidc.PASSWORD);
    assert.equal(res.status, 400);
    assert.match(String(body.msg), /second factor/);
    assert.equal(body.access_token, undefined);
    // A wrong password is still the one generic answer.
    assert.equal((await login(server, "alice", "wrong")).body.msg, "Invalid credentials");
    const grant = await oidc.tokenRequest(server, {
      grant_type: "password",
      username: "alice",
      password: oidc.PASSWORD,
    });
    assert.equal(grant.res.status, 400);
    assert.equal(grant.body.error, "mfa_required");
    assert.equal(grant.body.access_token, undefined);
    // Bob has no second factor: nothing changes for him.
    assert.equal((await login(server, "bob", USERS.bob)).res.status, 200);

    const { browser, html, verifier } = await passwordStep(server, app);
    assert.equal(browser.cookie !== undefined, true);
    // The code of the step used to confirm is spent; a code from two steps ago is too old.
    const replayed = await postCode(browser, html, await oathtoolCode(secret, confirmedAt));
    assert.equal(replayed.status, 400);
    assert.match(await replayed.text(), /Invalid code/);
    const skewed = await postCode(browser, html, await oathtoolCode(secret, nowSeconds() - 90));
    assert.equal(skewed.status, 400);
    await skewed.body?.cancel();
    const nonsense = await postCode(browser, html, "12345x");
    assert.equal(nonsense.status, 400);
    await nonsense.body?.cancel();

    const next = await oathtoolCode(secret, nowSeconds() + 30);
    const ok = await postCode(browser, html, next);
    const code = oidc.redirectedTo(ok, REDIRECT_URI).get("code")!;
    const tokens = await oidc.redeem(server, app, code, verifier);
    assert.equal(tokens.res.status, 200, JSON.stringify(tokens.body));
    const claims = decodeJwt(tokens.body.id_token as string);
    assert.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
    assert.equal(claims.acr, "urn:auth-api:aal2");

    // The same code again, in another browser after the password: refused.
    const again = await passwordStep(server, app);
    const reused = await postCode(again.browser, again.html, next);
    assert.equal(reused.status, 400);
    await reused.body?.cancel();
  },
);

needsOathtool("Two concurrent posts of one right code sign in once", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { secret } = await enrolTotp(await signedIn(server, app));
  const first = await passwordStep(server, app);
  const second = await passwordStep(server, app);
  const code = await oathtoolCode(secret, nowSeconds() + 30);
  const answers = await Promise.all([
    postCode(first.browser, first.html, code),
    postCode(second.browser, second.html, code),
  ]);
  const statuses = answers.map((res) => res.status).sort();
  for (const res of answers) await res.body?.cancel();
  assert.deepEqual(statuses, [303, 400]);
});

needsOathtool("Recovery codes sign in once each and new ones replace the old", async () => {
  const { server, app } = await setUp({ METRICS_PORT: "0" });
  await using _ = server;
  const enrolled = await signedIn(server, app);
  const { recoveryCodes } = await enrolTotp(enrolled);

  const first = await passwordStep(server, app);
  const typed = recoveryCodes[0].toUpperCase().replace("-", " ");
  oidc.redirectedTo(await postCode(first.browser, first.html, typed), REDIRECT_URI);
  const second = await passwordStep(server, app);
  const reused = await postCode(second.browser, second.html, recoveryCodes[0]);
  assert.equal(reused.status, 400);
  await reused.body?.cancel();
  const overview = await accountPage(enrolled);
  assert.match(overview.html, /9 unused recovery codes left/);

  const regenerated = await enrolled.post("/account/recovery-codes", {
    ...oidc.formFields(overview.html),
  });
  const page = await regenerated.text();
  assert.equal(regenerated.status, 200, page);
  const fresh = [...page.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
  assert.equal(fresh.length, 10);
  const old = await postCode(second.browser, second.html, recoveryCodes[1]);
  assert.equal(old.status, 400, "old codes are gone");
  await old.body?.cancel();
  oidc.redirectedTo(await postCode(second.browser, second.html, fresh[0]), REDIRECT_URI);
  const events = server.logs.map((line) => line.event);
  assert.ok(events.includes("recovery_code_used"));
  assert.ok(events.includes("recovery_codes_generated"));
  const metrics = await (await fetch(server.running.metricsUrl!)).text();
  const count = (event: string) =>
    Number(
      new RegExp(`^auth_second_factor_events_total\\{event="${event}"\\} (\\d+)`, "m")
        .exec(metrics)?.[1],
    );
  assert.equal(count("enrolled"), 1);
  assert.equal(count("succeeded"), 2);
  assert.equal(count("failed"), 2);
  assert.equal(count("recovery_code_used"), 2);
  assert.equal(count("recovery_codes_generated"), 2);
});

needsOathtool(
  "Code guessing is throttled per account, in parallel too, and a right password does not refill it",
  async () => {
    // A first wait long enough to outlast the test.
    const { server, app } = await setUp({ THROTTLE_BASE_DELAY: "60" });
    await using _ = server;
    const { secret } = await enrolTotp(await signedIn(server, app));
    const { browser, html } = await passwordStep(server, app);
    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postCode(browser, html, String(100000 + i))),
    );
    const statuses = guesses.map((res) => res.status);
    for (const res of guesses) await res.body?.cancel();
    const wrong = statuses.filter((status) => status === 400).length;
    assert.ok(wrong <= 5, `at most the free failures were checked: ${statuses}`);
    assert.equal(statuses.filter((status) => status === 429).length, 20 - wrong);
    const entered = server.logs.filter((line) => line.event === "throttle_entered");
    assert.deepEqual(entered.map((line) => line.reason), ["account"], "the code budget closed");

    // The right password again, in a new browser: the code is still refused while throttled.
    const again = await passwordStep(server, app);
    const right = await postCode(
      again.browser,
      again.html,
      await oathtoolCode(secret, nowSeconds() + 30),
    );
    const page = await right.text();
    assert.equal(right.status, 429, page);
    assert.match(page, /Too many failed sign-in attempts/);
    assert.equal(right.headers.get("location"), null);
  },
);

needsOathtool(
  "A browser session from before the second factor, and prompt=none, never give a code on the password alone",
  async () => {
    const { server, app } = await setUp();
    await using _ = server;
    const older = await signedIn(server, app);
    const olderOverview = await accountPage(older);
    await enrolTotp(await signedIn(server, app));

    // Single sign-on with the older session shows the sign-in page, not a code.
    const { challenge } = await oidc.pkce();
    const sso = await older.get(oidc.authorizeUrl(server, app, { code_challenge: challenge }));
    const page = await sso.text();
    assert.equal(sso.status, 200, page);
    assert.match(page, /<h1>Sign in<\/h1>/);
    const silent = await older.get(
      oidc.authorizeUrl(server, app, { code_challenge: challenge, prompt: "none" }),
    );
    assert.equal(oidc.redirectedTo(silent, REDIRECT_URI).get("error"), "login_required");
    // Nor may it change the account (its form from before is refused too).
    const change = await older.post("/account/recovery-codes", {
      ...oidc.formFields(olderOverview.html),
    });
    const refused = await change.text();
    assert.equal(change.status, 400, refused);
    assert.match(refused, /second factor/);
    assert.doesNotMatch(refused, /<li><code>/);
  },
);

needsOathtool(
  "user factors shows a user's second factor and user mfa-reset removes it, ending their sessions",
  async () => {
    const { server, app } = await setUp();
    await using _ = server;
    const browser = await signedIn(server, app);
    const { secret } = await enrolTotp(browser);

    const listed = await runCli(["user", "factors", "alice"], { cwd: server.dir });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /authenticator app {2}set up \d{4}-/);
    assert.match(listed.stdout, /recovery codes {5}10 unused/);
    assert.ok(!listed.stdout.includes(secret), "no secret is printed");

    const reset = await runCli(["user", "mfa-reset", "alice"], { cwd: server.dir });
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /Removed the second factor of "alice" and ended [1-9]\d* session/);
    const after = await runCli(["user", "factors", "alice"], { cwd: server.dir });
    assert.match(after.stdout, /"alice" has no second factor/);
    assert.match(after.stdout, /0 unused/);
    // The browser that set it up is signed out; the password alone works again.
    const overview = await accountPage(browser);
    assert.equal(overview.res.status, 303, "signed out: to the sign-in");
    assert.equal((await login(server, "alice", oidc.PASSWORD)).res.status, 200);
    const missing = await runCli(["user", "mfa-reset", "nobody"], { cwd: server.dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /User "nobody" does not exist/);
  },
);

needsOathtool(
  "prompt=login and max_age=0 ask for the password and then the code again, whatever the session",
  async () => {
    const { server, app } = await setUp();
    await using _ = server;
    const { secret } = await enrolTotp(await signedIn(server, app));
    const first = await passwordStep(server, app);
    const code = await oathtoolCode(secret, nowSeconds() + 30);
    oidc.redirectedTo(await postCode(first.browser, first.html, code), REDIRECT_URI);
    for (const params of [{ prompt: "login" }, { max_age: "0" }] as Record<string, string>[]) {
      const again = await passwordStep(server, app, first.browser, params);
      assert.match(again.html, /Enter your code/, JSON.stringify(params));
      const replayed = await postCode(first.browser, again.html, code);
      assert.equal(replayed.status, 400, "the code of the last sign-in does not do");
      await replayed.body?.cancel();
    }
  },
);

needsOathtool("Wrong codes and wrong passwords share the client address's budget", async () => {
  const { server, app } = await setUp({ THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "4" });
  await using _ = server;
  await enrolTotp(await signedIn(server, app));
  const { browser, html } = await passwordStep(server, app);
  for (const guess of ["111111", "222222"]) {
    const res = await postCode(browser, html, guess);
    assert.equal(res.status, 400);
    await res.body?.cancel();
  }
  assert.equal((await login(server, "bob", "wrong-password")).res.status, 400);
  // The fourth failure from this address fills its budget: bob's right password waits too.
  const res = await postCode(browser, html, "333333");
  assert.equal(res.status, 400);
  await res.body?.cancel();
  assert.equal((await login(server, "bob", USERS.bob)).res.status, 429);
});

needsOathtool(
  "A browser signed in with its code gets single sign-on, and the ID token says so",
  async () => {
    const { server, app } = await setUp();
    await using _ = server;
    const { secret } = await enrolTotp(await signedIn(server, app));
    const { browser, html } = await passwordStep(server, app);
    oidc.redirectedTo(
      await postCode(browser, html, await oathtoolCode(secret, nowSeconds() + 30)),
      REDIRECT_URI,
    );
    const { verifier, challenge } = await oidc.pkce();
    const sso = await browser.get(oidc.authorizeUrl(server, app, { code_challenge: challenge }));
    const code = oidc.redirectedTo(sso, REDIRECT_URI).get("code")!;
    const tokens = await oidc.redeem(server, app, code, verifier);
    const claims = decodeJwt(tokens.body.id_token as string);
    assert.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
    assert.equal(claims.acr, "urn:auth-api:aal2");
  },
);
