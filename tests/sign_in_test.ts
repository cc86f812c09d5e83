/**
 * @module
 * `POST /sign-in` and `POST /consent` over HTTPS: CSRF tokens bound to their pending request
 * and browser, the session cookie and its flags, no session fixation, throttling shared with
 * `/login`, one generic failure message, and forms raced or replayed.
 */
import assert from "node:assert/strict";
import { randomSecret, sha256Hex } from "../src/auth/secrets.ts";
import { unixNow } from "../src/clock.ts";
import { SESSION_COOKIE } from "../src/http/cookies.ts";
import * as oidc from "./helpers/oidc.ts";
import {
  CountingHasher,
  login,
  startTestServer,
  TEST_ITERATIONS,
  type TestServer,
} from "./helpers/server.ts";

const USERS = { alice: oidc.PASSWORD, bob: "bob-password-1" };
/** Client addresses a trusted proxy reports: the attacker's and the user's NAT, and another. */
const NAT = "198.51.100.7";
const ELSEWHERE = "198.51.100.8";
const DEVICE_TOKEN = /^[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}$/;

async function setUp(
  env: Record<string, string> = {},
): Promise<{ server: TestServer; app: oidc.TestClient; url: string }> {
  const server = await startTestServer({ users: USERS, env });
  const app = await oidc.registerClient(server, {
    clientId: "app",
    redirectUris: [oidc.REDIRECT_URI],
  });
  const url = oidc.authorizeUrl(server, app, { code_challenge: (await oidc.pkce()).challenge });
  return { server, app, url };
}

/** Asserts a refused form: an HTML page with `status`, no cookie set, no redirect. */
async function assertRefused(res: Response, status: number, message: RegExp): Promise<void> {
  const html = await res.text();
  assert.equal(res.status, status, html);
  assert.equal(res.headers.get("location"), null);
  assert.deepEqual(res.headers.getSetCookie(), [], "no session was started");
  assert.match(html, message);
}

Deno.test("POST /sign-in answers 403 to a form without a CSRF token, with another request's, or from another browser", async () => {
  const { server, url } = await setUp();
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const first = await browser.signInPage(url);
  const second = await browser.signInPage(url);
  const credentials = { username: "alice", password: oidc.PASSWORD };

  await assertRefused(
    await browser.post("/sign-in", { request: first.request, ...credentials }),
    403,
    /no valid CSRF token/,
  );
  await assertRefused(
    await browser.post("/sign-in", { ...first, csrf_token: "", ...credentials }),
    403,
    /no valid CSRF token/,
  );
  await assertRefused(
    await browser.post("/sign-in", { ...first, csrf_token: second.csrf_token, ...credentials }),
    403,
    /belongs to another request/,
  );
  // The attacker's own browser (another cookie), or no cookie at all, with the victim's form.
  const attacker = new oidc.CookieBrowser(server);
  await attacker.signInPage(url);
  await assertRefused(
    await attacker.post("/sign-in", { ...first, ...credentials }),
    403,
    /shown to another browser/,
  );
  await assertRefused(
    await new oidc.CookieBrowser(server).post("/sign-in", { ...first, ...credentials }),
    403,
    /no session cookie/,
  );
  // None of that spent the form: the right browser with the right token still signs in.
  const res = await browser.signIn(first, "alice", oidc.PASSWORD);
  assert.ok(oidc.redirectedTo(res, oidc.REDIRECT_URI).get("code"));
});

Deno.test("POST /sign-in with wrong credentials shows one generic message, keeps the username and escapes it", async () => {
  const { server, url } = await setUp();
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const fields = await browser.signInPage(url);
  const bodies: string[] = [];
  for (const [username, password] of [["alice", "wrong"], ["nobody", oidc.PASSWORD], ["", ""]]) {
    const res = await browser.signIn(fields, username, password);
    const html = await res.text();
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(
      html,
      /<p class="error" role="alert" id="sign-in-error">Invalid username or password<\/p>/,
    );
    assert.match(html, new RegExp(`id="username" name="username" value="${username}"`));
    assert.deepEqual(oidc.formFields(html), fields, "the same pending request and CSRF token");
    bodies.push(html.replace(/value="[^"]*"|\s+autofocus|\s+(?=>)/g, "").replace(/\s+/g, " "));
  }
  assert.deepEqual(bodies.slice(1), [bodies[0], bodies[0]], "no hint which part was wrong");
  const res = await browser.signIn(fields, '"><script>alert(1)</script>', "x");
  const html = await res.text();
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
});

Deno.test("the sign-in page is throttled exactly as /login: failures count together, 429 with Retry-After", async () => {
  const { server, url } = await setUp({
    THROTTLE_FREE_FAILURES: "2",
    THROTTLE_BASE_DELAY: "60",
    THROTTLE_MAX_DELAY: "60",
  });
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const fields = await browser.signInPage(url);
  assert.equal((await login(server, "alice", "wrong")).res.status, 400);
  const failed = await browser.signIn(fields, "alice", "wrong");
  assert.equal(failed.status, 400);
  await failed.body?.cancel();
  // Two failures, one through each door: the third is throttled at both.
  const third = await browser.signIn(fields, "alice", "wrong");
  await third.body?.cancel();
  const throttled = await browser.signIn(fields, "alice", oidc.PASSWORD);
  const html = await throttled.text();
  assert.equal(throttled.status, 429);
  assert.ok(Number(throttled.headers.get("retry-after")) > 0);
  assert.match(html, /Too many failed sign-in attempts; try again in \d+ seconds/);
  assert.match(html, /value="alice"/);
  assert.deepEqual(throttled.headers.getSetCookie(), []);
  assert.equal((await login(server, "alice", oidc.PASSWORD)).res.status, 429, "and /login agrees");
});

Deno.test("the sign-in page during an attack behind a trusted proxy: the browser that signed in before gets in by its __Host-device cookie, another address gets in, the attacker's attempts hash nothing", async () => {
  const hasher = new CountingHasher(TEST_ITERATIONS);
  const server = await startTestServer({
    users: USERS,
    hasher,
    env: {
      TRUSTED_PROXIES: "127.0.0.1",
      THROTTLE_FREE_FAILURES: "3",
      THROTTLE_BASE_DELAY: "120",
      THROTTLE_MAX_DELAY: "120",
      THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "5",
      DEVICE_TOKEN_TTL: "86400",
    },
  });
  await using _ = server;
  const app = await oidc.registerClient(server, {
    clientId: "app",
    redirectUris: [oidc.REDIRECT_URI],
  });
  const page = async (browser: oidc.CookieBrowser) =>
    await browser.signInPageFor(app, { prompt: "login" });
  const behindProxy = (address: string) => {
    const browser = new oidc.CookieBrowser(server);
    browser.headers = { "x-forwarded-for": address };
    return browser;
  };
  const statusOf = async (res: Response) => {
    await res.body?.cancel();
    return res.status;
  };

  const user = behindProxy(NAT);
  const first = await user.signIn(await page(user), "alice", oidc.PASSWORD);
  oidc.redirectedTo(first, oidc.REDIRECT_URI);
  const device = user.cookies.get("__Host-device")!;
  assert.match(device, DEVICE_TOKEN);
  assert.ok(
    first.headers.getSetCookie().includes(
      `__Host-device=${device}; Max-Age=86400; Path=/; Secure; HttpOnly; SameSite=Strict`,
    ),
    String(first.headers.getSetCookie()),
  );

  // The attacker at the same address spends alice's budget, then the address's on other names.
  const attacker = behindProxy(NAT);
  const form = await page(attacker);
  for (let i = 0; i < 3; i++) {
    assert.equal(await statusOf(await attacker.signIn(form, "alice", `guess${i}`)), 400);
  }
  for (let i = 0; i < 2; i++) {
    assert.equal(await statusOf(await attacker.signIn(form, `victim${i}`, "x")), 400);
  }
  const checks = hasher.checks;
  assert.equal(await statusOf(await attacker.signIn(form, "alice", oidc.PASSWORD)), 429);
  assert.equal(await statusOf(await attacker.signIn(form, "bob", USERS.bob)), 429);
  const elsewhere = behindProxy(ELSEWHERE);
  assert.equal(
    await statusOf(await elsewhere.signIn(await page(elsewhere), "alice", oidc.PASSWORD)),
    429,
  );
  // A cookie that is not alice's device token does not help.
  attacker.cookies.set(
    "__Host-device",
    `${device.slice(0, -1)}${device.endsWith("A") ? "B" : "A"}`,
  );
  assert.equal(await statusOf(await attacker.signIn(form, "alice", "guess9")), 429);
  assert.equal(hasher.checks, checks, "no password was hashed for the throttled attempts");

  // The real user's browser gets in at the attacker's address, and keeps its device.
  const renewed = await user.signIn(await page(user), "alice", oidc.PASSWORD);
  oidc.redirectedTo(renewed, oidc.REDIRECT_URI);
  assert.equal(user.cookies.get("__Host-device")!.split(".")[0], device.split(".")[0]);
  // Bob at another address is not behind the attacker's address budget.
  oidc.redirectedTo(
    await elsewhere.signIn(await page(elsewhere), "bob", USERS.bob),
    oidc.REDIRECT_URI,
  );
});

Deno.test("signing in sets a __Host- session cookie (Secure, HttpOnly, SameSite=Lax, Path=/) under a new value", async () => {
  const { server, url } = await setUp();
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const page = await browser.get(url);
  const [binding] = page.headers.getSetCookie();
  assert.match(binding, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `));
  const before = browser.cookie;
  const res = await browser.signIn(oidc.formFields(await page.text()), "alice", oidc.PASSWORD);
  const [cookie] = res.headers.getSetCookie();
  for (const header of [binding, cookie]) {
    const attributes = header.split("; ").slice(1).sort();
    assert.deepEqual(attributes, ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"], header);
    assert.doesNotMatch(header, /Domain=/i, "host-only, as __Host- requires");
  }
  assert.ok(browser.cookie);
  assert.notEqual(browser.cookie, before, "a new id after sign-in");
  // The cookie names the session by a secret of which the store keeps only the hash.
  assert.equal(await server.store.getBrowserSession(browser.cookie), undefined);
});

Deno.test("session fixation: a cookie planted before sign-in, or the previous session's, never becomes the session", async () => {
  const { server, url } = await setUp();
  await using _ = server;
  // An attacker's chosen value, in the shape of ours.
  const planted = "A".repeat(43);
  const browser = new oidc.CookieBrowser(server);
  browser.cookie = planted;
  const fields = await browser.signInPage(url);
  assert.equal(browser.cookie, planted, "the page may bind to it");
  const res = await browser.signIn(fields, "alice", oidc.PASSWORD);
  assert.ok(oidc.redirectedTo(res, oidc.REDIRECT_URI).get("code"));
  assert.notEqual(browser.cookie, planted);
  const attacker = new oidc.CookieBrowser(server);
  attacker.cookie = planted;
  const attempt = await attacker.get(
    oidc.authorizeUrl(server, { clientId: "app", redirectUri: oidc.REDIRECT_URI }, {
      code_challenge: (await oidc.pkce()).challenge,
      prompt: "none",
    }),
  );
  assert.equal(oidc.redirectedTo(attempt, oidc.REDIRECT_URI).get("error"), "login_required");

  // Signing in again (prompt=login) replaces the session's id too; the old one stops working.
  const signedIn = browser.cookie!;
  const again = await browser.signInPage(
    oidc.authorizeUrl(server, { clientId: "app", redirectUri: oidc.REDIRECT_URI }, {
      code_challenge: (await oidc.pkce()).challenge,
      prompt: "login",
    }),
  );
  oidc.redirectedTo(await browser.signIn(again, "alice", oidc.PASSWORD), oidc.REDIRECT_URI);
  assert.notEqual(browser.cookie, signedIn);
  const old = new oidc.CookieBrowser(server);
  old.cookie = signedIn;
  const stale = await old.get(
    oidc.authorizeUrl(server, { clientId: "app", redirectUri: oidc.REDIRECT_URI }, {
      code_challenge: (await oidc.pkce()).challenge,
      prompt: "none",
    }),
  );
  assert.equal(oidc.redirectedTo(stale, oidc.REDIRECT_URI).get("error"), "login_required");
});

Deno.test("one sign-in form submitted many times at once signs in exactly once; replayed later it is refused", async () => {
  // Eight attempts reserved at once would exceed the account's free attempts (429): this test is
  // about the form, not the throttle.
  const { server, url } = await setUp({ THROTTLE_FREE_FAILURES: "1000" });
  await using _ = server;
  for (let round = 0; round < 5; round++) {
    const browser = new oidc.CookieBrowser(server);
    const fields = await browser.signInPage(url);
    const cookie = browser.cookie;
    const results = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const racer = new oidc.CookieBrowser(server);
        racer.cookie = cookie;
        const res = await racer.signIn(fields, "alice", oidc.PASSWORD);
        await res.body?.cancel();
        return res.status;
      }),
    );
    assert.deepEqual(results.filter((status) => status === 303).length, 1, `round ${round}`);
    assert.ok(results.every((status) => status === 303 || status === 400), String(results));
  }
  const browser = new oidc.CookieBrowser(server);
  const fields = await browser.signInPage(url);
  const cookie = browser.cookie;
  oidc.redirectedTo(await browser.signIn(fields, "alice", oidc.PASSWORD), oidc.REDIRECT_URI);
  const replay = new oidc.CookieBrowser(server);
  replay.cookie = cookie;
  await assertRefused(
    await replay.signIn(fields, "alice", oidc.PASSWORD),
    400,
    /expired or was already used/,
  );
});

/** A server with alice and bob and the third-party client "partner", which needs consent. */
async function serverWithPartner(): Promise<{ server: TestServer; partner: oidc.TestClient }> {
  const server = await startTestServer({ users: USERS });
  const partner = await oidc.registerClient(server, {
    clientId: "partner",
    redirectUris: [oidc.REDIRECT_URI],
    firstParty: false,
  });
  return { server, partner };
}

Deno.test("a sign-in form does not pass as a consent or sign-out form, nor the other way round", async () => {
  const { server, partner } = await serverWithPartner();
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const signIn = await browser.signInPageFor(partner);
  await assertRefused(
    await browser.post("/consent", { ...signIn, decision: "allow" }),
    403,
    /does not belong to a consent/,
  );
  await assertRefused(await browser.post("/sign-out", { ...signIn }), 403, /does not belong/);
  const consentPage = await browser.signIn(signIn, "alice", oidc.PASSWORD);
  const html = await consentPage.text();
  assert.equal(consentPage.status, 200);
  assert.match(html, /<h1>Allow access\?<\/h1>/);
  const consent: oidc.FormFields = oidc.formFields(html);
  const res = await browser.post("/sign-in", {
    ...consent,
    username: "alice",
    password: oidc.PASSWORD,
  });
  await assertRefused(res, 403, /does not belong to a sign-in/);
});

Deno.test("POST /consent answers 403 without the CSRF token or from another browser, and needs the same session", async () => {
  const { server, partner } = await serverWithPartner();
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const url = oidc.authorizeUrl(server, partner, { code_challenge: (await oidc.pkce()).challenge });
  const consentPage = await browser.signIn(await browser.signInPage(url), "alice", oidc.PASSWORD);
  const consent = oidc.formFields(await consentPage.text());

  await assertRefused(
    await browser.post("/consent", { request: consent.request, decision: "allow" }),
    403,
    /CSRF/,
  );
  const other = new oidc.CookieBrowser(server);
  await other.signIn(await other.signInPage(url), "bob", "bob-password-1").then((res) =>
    res.body?.cancel()
  );
  await assertRefused(
    await other.post("/consent", { ...consent, decision: "allow" }),
    403,
    /another browser/,
  );
  const query = oidc.redirectedTo(
    await browser.post("/consent", { ...consent, decision: "allow" }),
    oidc.REDIRECT_URI,
  );
  assert.ok(query.get("code"));
  assert.equal(query.get("iss"), server.url);
  const subject = async (name: string) => (await server.store.getUser(name))!.subject;
  assert.equal(await server.store.getConsent(await subject("alice"), "partner"), "openid profile");
  assert.equal(await server.store.getConsent(await subject("bob"), "partner"), undefined);
});

Deno.test("a browser session ends when idle or past its absolute lifetime; use renews only the idle one", async () => {
  const { server, app } = await setUp({ BROWSER_SESSION_IDLE: "600", BROWSER_SESSION_MAX: "3600" });
  await using _ = server;
  const now = unixNow();
  /** A session stored as signing in would store it, with the given expiries. */
  const session = async (idleExpiresAt: number, expiresAt: number) => {
    const cookie = randomSecret();
    const idHash = await sha256Hex(cookie);
    await server.store.addBrowserSession({
      idHash,
      sid: crypto.randomUUID(),
      username: "alice",
      subject: (await server.store.getUser("alice"))!.subject,
      authTime: now - 100,
      createdAt: now - 100,
      idleExpiresAt,
      expiresAt,
    });
    const browser = new oidc.CookieBrowser(server);
    browser.cookie = cookie;
    return { browser, idHash };
  };
  const silently = async (browser: oidc.CookieBrowser) =>
    oidc.redirectedTo(
      await browser.get(oidc.authorizeUrl(server, app, {
        code_challenge: (await oidc.pkce()).challenge,
        prompt: "none",
      })),
      oidc.REDIRECT_URI,
    );

  const live = await session(now + 100, now + 1000);
  assert.ok((await silently(live.browser)).get("code"));
  const renewed = await server.store.getBrowserSession(live.idHash);
  assert.ok(renewed!.idleExpiresAt >= now + 600, "used: 600 s more of idle lifetime");
  const nearEnd = await session(now + 100, now + 200);
  await silently(nearEnd.browser);
  assert.equal((await server.store.getBrowserSession(nearEnd.idHash))!.idleExpiresAt, now + 200);
  for (const [idle, max] of [[now, now + 1000], [now + 100, now]]) {
    const { browser } = await session(idle, max);
    assert.equal(
      (await silently(browser)).get("error"),
      "login_required",
      `${idle - now}/${max - now}`,
    );
  }
  // Signing in gives the new session the configured lifetimes.
  const browser = new oidc.CookieBrowser(server);
  oidc.redirectedTo(
    await browser.signIn(
      await browser.signInPageFor(app),
      "alice",
      oidc.PASSWORD,
    ),
    oidc.REDIRECT_URI,
  );
  const stored = await server.store.getBrowserSession(await sha256Hex(browser.cookie!));
  assert.ok(stored!.expiresAt - stored!.createdAt === 3600);
  assert.ok(stored!.idleExpiresAt - stored!.createdAt === 600);
});
