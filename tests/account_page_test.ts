/**
 * @module
 * The account page's sessions over HTTPS: a person sees their signed-in browsers and apps, ends
 * any one of them or all at once, and cannot name anyone else's; every end is an audit event.
 */
import assert from "node:assert/strict";
import {
  authorizationCode,
  CookieBrowser,
  formFields,
  PASSWORD,
  redeem,
  registerClient,
  type TestClient,
  tokenRequest,
} from "./helpers/oidc.ts";
import { accountPage } from "./helpers/second_factor.ts";
import { login, startTestServer, type TestServer } from "./helpers/server.ts";

const REDIRECT_URI = "https://app.example/callback";
const BOB_PASSWORD = "bob-password-1";

async function setUp(): Promise<{ server: TestServer; app: TestClient }> {
  const server = await startTestServer({
    users: { alice: PASSWORD, bob: BOB_PASSWORD },
    env: { METRICS_PORT: "0" },
  });
  const app = await registerClient(server, {
    clientId: "app",
    name: "Photo App",
    redirectUris: [REDIRECT_URI],
  });
  return { server, app };
}

/** Signs `username` in with a new browser and redeems the code: a browser and a refresh token. */
async function signIn(
  server: TestServer,
  app: TestClient,
  username = "alice",
  password = PASSWORD,
): Promise<{ browser: CookieBrowser; refreshToken: string }> {
  const { code, verifier, browser } = await authorizationCode(server, app, {
    username,
    password,
    params: { scope: "openid hello" },
  });
  const tokens = await redeem(server, app, code, verifier);
  assert.equal(tokens.res.status, 200, JSON.stringify(tokens.body));
  return { browser, refreshToken: tokens.body.refresh_token as string };
}

/** The `sid`s of the sign-out forms of the page's browsers, in page order. */
function sids(html: string): string[] {
  return [...html.matchAll(/name="sid" value="([^"]+)"/g)].map((match) => match[1]);
}

/** The `sid` of the page's own browser and of the others. */
function ownAndOthers(html: string): { own: string; others: string[] } {
  const entries = [...html.matchAll(/<li>Signed in (?:(?!<\/li>)[\s\S])*?<\/li>/g)].map((m) =>
    m[0]
  );
  const sidOf = (entry: string) => /name="sid" value="([^"]+)"/.exec(entry)![1];
  const own = entries.filter((entry) => entry.includes("(this browser)")).map(sidOf);
  assert.equal(own.length, 1, html);
  return { own: own[0], others: entries.filter((e) => !e.includes("(this browser)")).map(sidOf) };
}

/** The `auth_account_changes_total` count of `change`. */
async function changes(server: TestServer, change: string): Promise<number> {
  const text = await (await fetch(server.running.metricsUrl!)).text();
  const pattern = new RegExp(`^auth_account_changes_total\\{change="${change}"\\} (\\d+)`, "m");
  return Number(pattern.exec(text)?.[1]);
}

function refresh(server: TestServer, app: TestClient, refreshToken: string) {
  return tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: app.clientId,
  });
}

Deno.test("The account page lists the person's browsers and apps and ends one browser or one app", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const first = await signIn(server, app);
  const second = await signIn(server, app);
  const bob = await signIn(server, app, "bob", BOB_PASSWORD);

  const page = await accountPage(first.browser);
  assert.equal(page.res.status, 200, page.html);
  assert.equal(sids(page.html).length, 2, "alice's two browsers, not bob's");
  assert.match(page.html, /\(this browser\)/);
  assert.match(page.html, /<strong>Photo App<\/strong>: 2 session\(s\)/);
  const { own, others: [other] } = ownAndOthers(page.html);

  // Bob cannot end alice's browser with his own page's form.
  const bobPage = await accountPage(bob.browser);
  const refused = await bob.browser.post("/account/sign-out", {
    ...formFields(bobPage.html),
    sid: other,
  });
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /No such session of yours/);
  assert.equal((await accountPage(second.browser)).res.status, 200, "still signed in");

  // Alice ends her other browser from the first: it is signed out, its app session too.
  const ended = await first.browser.post("/account/sign-out", {
    ...formFields(page.html),
    sid: other,
  });
  const after = await ended.text();
  assert.equal(ended.status, 200, after);
  assert.deepEqual(sids(after), [own]);
  assert.equal((await accountPage(second.browser)).res.status, 303);
  assert.equal((await refresh(server, app, second.refreshToken)).res.status, 400);
  assert.equal((await refresh(server, app, first.refreshToken)).res.status, 200);

  // Then every session of the app: the first browser's family is revoked, the browser stays.
  const now = await accountPage(first.browser);
  const appOut = await first.browser.post("/account/sign-out", {
    ...formFields(now.html),
    client_id: "app",
  });
  const appPage = await appOut.text();
  assert.equal(appOut.status, 200, appPage);
  assert.match(appPage, /No app holds a session of yours/);
  assert.equal((await refresh(server, app, first.refreshToken)).res.status, 400);
  assert.equal((await refresh(server, app, bob.refreshToken)).res.status, 200, "bob's stays");
  const events = server.logs.map((line) => line.event);
  assert.ok(events.includes("browser_signed_out"));
  assert.ok(events.includes("app_signed_out"));
  assert.equal(await changes(server, "app_signed_out"), 1);
});

Deno.test("Sign out everywhere ends every session of the person, this browser's included, once", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const first = await signIn(server, app);
  const second = await signIn(server, app);
  const page = await accountPage(first.browser);
  const fields = { ...formFields(page.html), everywhere: "yes" };
  // The same form posted twice at once: one ends everything, the other is refused.
  const answers = await Promise.all([
    first.browser.post("/account/sign-out", fields),
    first.browser.post("/account/sign-out", fields),
  ]);
  const statuses = answers.map((res) => res.status).sort();
  const [ok] = answers.filter((res) => res.status === 200);
  assert.deepEqual(statuses, [200, 400]);
  assert.match(await ok.text(), /Signed out everywhere/);
  assert.match(ok.headers.getSetCookie().join("\n"), /Max-Age=0/);
  for (const res of answers) await res.body?.cancel().catch(() => {});
  for (const browser of [first.browser, second.browser]) {
    assert.equal((await accountPage(browser)).res.status, 303);
  }
  for (const token of [first.refreshToken, second.refreshToken]) {
    assert.equal((await refresh(server, app, token)).res.status, 400);
  }
  const event = server.logs.find((line) => line.event === "signed_out_everywhere");
  assert.equal(event?.sessions_ended, 4, JSON.stringify(event));
  assert.equal(event?.devices_forgotten, 2, "each browser's remembered device");
  assert.equal(await changes(server, "signed_out_everywhere"), 1);
});

Deno.test("Changing the password on the account page needs the current one and ends every other session", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const first = await signIn(server, app);
  const second = await signIn(server, app);
  const change = async (current: string, next: string) => {
    const page = await accountPage(first.browser);
    return await first.browser.post("/account/password", {
      ...formFields(page.html),
      current_password: current,
      new_password: next,
    });
  };

  const wrong = await change("not-the-password", "alice-password-2");
  const wrongPage = await wrong.text();
  assert.equal(wrong.status, 400, wrongPage);
  assert.match(wrongPage, /Invalid username or password/);
  const weak = await change(PASSWORD, "short");
  assert.equal(weak.status, 400);
  assert.match(await weak.text(), /at least 8 characters/);
  assert.equal((await accountPage(second.browser)).res.status, 200, "nothing changed yet");

  const cookieBefore = first.browser.cookie;
  const changed = await change(PASSWORD, "alice-password-2");
  const page = await changed.text();
  assert.equal(changed.status, 200, page);
  assert.match(page, /Your password is changed/);
  assert.notEqual(first.browser.cookie, cookieBefore, "this browser gets a new session");
  assert.equal((await accountPage(first.browser)).res.status, 200, "and stays signed in");
  assert.equal((await accountPage(second.browser)).res.status, 303, "the other is signed out");
  for (const token of [first.refreshToken, second.refreshToken]) {
    assert.equal((await refresh(server, app, token)).res.status, 400);
  }
  assert.equal((await login(server, "alice", PASSWORD)).res.status, 400);
  assert.equal((await login(server, "alice", "alice-password-2")).res.status, 200);
  const event = server.logs.find((line) => line.event === "password_changed");
  assert.equal(event?.sessions_ended, 4, JSON.stringify(event));
  assert.equal(await changes(server, "password_changed"), 1);
});

Deno.test("Setting up a second factor needs a sign-in of the last ten minutes", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { browser } = await signIn(server, app);
  const realNow = Date.now;
  // Eleven minutes later, with the session still alive (its idle time is half an hour).
  Date.now = () => realNow() + 11 * 60 * 1000;
  try {
    const page = await accountPage(browser);
    const stale = await browser.post("/account/totp", { ...formFields(page.html) });
    const refused = await stale.text();
    assert.equal(stale.status, 400, refused);
    assert.match(refused, /too long ago/);
    assert.doesNotMatch(refused, /totp-secret/);
  } finally {
    Date.now = realNow;
  }
  const fresh = await accountPage(browser);
  const started = await browser.post("/account/totp", { ...formFields(fresh.html) });
  assert.equal(started.status, 200);
  assert.match(await started.text(), /totp-secret/);
});

Deno.test("One password-change form posted twice at once changes the password once; another browser's form is refused", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const first = await signIn(server, app);
  const second = await signIn(server, app);

  // The second browser's form, sent with the first browser's cookie: bound to another session.
  const othersForm = formFields((await accountPage(second.browser)).html);
  const crossed = await first.browser.post("/account/password", {
    ...othersForm,
    current_password: PASSWORD,
    new_password: "alice-password-9",
  });
  assert.equal(crossed.status, 403);
  assert.match(await crossed.text(), /The form was shown to another browser/);
  assert.equal((await login(server, "alice", PASSWORD)).res.status, 200, "nothing changed");

  const fields = formFields((await accountPage(first.browser)).html);
  const answers = await Promise.all(
    ["alice-password-2", "alice-password-3"].map((next) =>
      first.browser.post("/account/password", {
        ...fields,
        current_password: PASSWORD,
        new_password: next,
      })
    ),
  );
  const statuses = answers.map((res) => res.status).sort();
  for (const res of answers) await res.body?.cancel().catch(() => {});
  assert.deepEqual(statuses, [200, 400]);
  const logins = await Promise.all(
    [PASSWORD, "alice-password-2", "alice-password-3"].map(async (password) =>
      (await login(server, "alice", password)).res.status
    ),
  );
  assert.deepEqual(logins.filter((status) => status === 200).length, 1, String(logins));
  assert.equal(logins[0], 400, "the old password no longer works");
  assert.equal(await changes(server, "password_changed"), 1);
});

/** Logs alice in over `/login` as the program `agent`, presenting `deviceToken`: its new one. */
async function apiLogin(server: TestServer, agent: string, deviceToken?: string): Promise<string> {
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json", "user-agent": agent },
    body: JSON.stringify({
      username: "alice",
      password: PASSWORD,
      ...(deviceToken && { device_token: deviceToken }),
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.device_token;
}

/** The device ids of the page's forget forms, in page order. */
function deviceIds(html: string): string[] {
  return [...html.matchAll(/name="device" value="([^"]+)"/g)].map((match) => match[1]);
}

Deno.test("Remembered devices are listed by what they said they were, and a forgotten one starts over as a new device", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const token = await apiLogin(server, "Scanner-CLI/2.0\t<b>bold</b>");
  const deviceId = token.split(".")[0];
  assert.equal((await apiLogin(server, "Scanner-CLI/2.0", token)).split(".")[0], deviceId);
  const { browser } = await signIn(server, app);
  const bob = await signIn(server, app, "bob", BOB_PASSWORD);

  const page = await accountPage(browser);
  assert.equal(page.res.status, 200, page.html);
  assert.match(page.html, /<strong>Scanner-CLI\/2\.0 &lt;b&gt;bold&lt;\/b&gt;<\/strong>: first /);
  assert.equal(deviceIds(page.html).length, 2, "the program and this browser, not bob's");
  assert.ok(deviceIds(page.html).includes(deviceId));

  // Bob cannot forget alice's device with his own page's form.
  const bobPage = await accountPage(bob.browser);
  const refused = await bob.browser.post("/account/sign-out", {
    ...formFields(bobPage.html),
    device: deviceId,
  });
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /No such session of yours/);

  // Two of alice's pages forget the same device at once: one does, the other is told it is gone.
  const other = await signIn(server, app);
  const pages = await Promise.all([accountPage(browser), accountPage(other.browser)]);
  const answers = await Promise.all([
    browser.post("/account/sign-out", { ...formFields(pages[0].html), device: deviceId }),
    other.browser.post("/account/sign-out", { ...formFields(pages[1].html), device: deviceId }),
  ]);
  const texts = await Promise.all(answers.map((res) => res.text()));
  assert.deepEqual(answers.map((res) => res.status).sort(), [200, 400], texts.join("\n"));
  const forgotten = texts[answers.findIndex((res) => res.status === 200)];
  assert.ok(!deviceIds(forgotten).includes(deviceId));
  assert.equal(await changes(server, "device_forgotten"), 1);
  assert.equal(server.logs.filter((line) => line.event === "device_forgotten").length, 1);

  // The forgotten device's token no longer counts: its next login is a new device.
  const after = await apiLogin(server, "Scanner-CLI/2.0", token);
  assert.notEqual(after.split(".")[0], deviceId);
  assert.ok(server.logs.every((line) => (line.status as number ?? 0) < 500));
});
