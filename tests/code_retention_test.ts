/**
 * What the sign-in flow keeps, and for how long. Authorization codes: a signed-in browser's
 * single sign-on may mint a code per `/authorize`, so one browser session keeps at most
 * {@linkcode MAX_CODES_PER_BROWSER_SESSION} codes (redeemed or not; a new one drops the oldest),
 * and codes past their lifetime leave the store when the session is issued its next one, never
 * a day later. Pending sign-in requests: every sign-in page shown to a browser without a session
 * stores one, so one client address may have at most
 * {@linkcode MAX_PENDING_SIGN_INS_PER_ADDRESS} unfinished ones at a time; the next page is a 429
 * page that says so, other addresses are unaffected, and finishing a sign-in frees its place.
 * The store is read from its SQLite file, read-only.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  authorizationCode,
  authorizeUrl,
  CookieBrowser,
  formFields,
  pkce,
  redeem,
  redirectedTo,
  type TestClient,
} from "./helpers/oidc.ts";
import { addClient } from "./helpers/clients_cli.ts";
import { passkeyFormFields } from "./helpers/passkeys.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

/** The most authorization codes one browser session keeps, redeemed or not. */
const MAX_CODES_PER_BROWSER_SESSION = 16;
/** The most unfinished sign-in pages one client address may have at a time. */
const MAX_PENDING_SIGN_INS_PER_ADDRESS = 50;
/** How long a code may wait for its exchange (RFC 6749 §4.1.2 asks for at most ten minutes). */
const CODE_LIFETIME_SECONDS = 60;

const PASSWORD = "alice-password-1";
const REDIRECT_URI = "https://app.example/callback";
const APP: TestClient = { clientId: "app", redirectUri: REDIRECT_URI };

/** A server with alice and the first-party public client "app", behind `env`. */
async function setUp(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer({ users: { alice: PASSWORD }, env });
  await addClient(server, "app", {
    redirectUris: [REDIRECT_URI],
    public: true,
    firstParty: true,
    scope: "openid hello",
  });
  return server;
}

/** Rows of a table of the server's SQLite store, read from the file without writing. */
function rowsOf(server: TestServer, table: "authorization_codes" | "pending_requests"): number {
  const db = new DatabaseSync(`${server.dir}/data/auth.db`, { readOnly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The code a signed-in browser gets from `/authorize` at once (single sign-on). */
async function ssoCode(server: TestServer, browser: CookieBrowser, challenge: string) {
  const res = await browser.get(
    authorizeUrl(server, APP, { scope: "openid hello", code_challenge: challenge }),
  );
  const code = redirectedTo(res, REDIRECT_URI).get("code");
  assert.ok(code, "single sign-on issues a code");
  return code;
}

/** Moves the clock this process reads (the in-process server's) ahead until disposed. */
function clockAhead(seconds: number): Disposable {
  const realNow = Date.now;
  Date.now = () => realNow.call(Date) + seconds * 1000;
  return {
    [Symbol.dispose]() {
      Date.now = realNow;
    },
  };
}

Deno.test(`a burst of 170 single sign-on codes for one browser keeps at most ${MAX_CODES_PER_BROWSER_SESSION} in the store: the newest redeem, the dropped oldest do not`, async () => {
  await using server = await setUp();
  const { browser } = await authorizationCode(server, APP, { params: { scope: "openid hello" } });
  const { verifier, challenge } = await pkce();
  await Promise.all(Array.from({ length: 150 }, () => ssoCode(server, browser, challenge)));
  const newest: string[] = [];
  for (let i = 0; i < 20; i++) newest.push(await ssoCode(server, browser, challenge));

  const kept = rowsOf(server, "authorization_codes");
  assert.ok(kept <= MAX_CODES_PER_BROWSER_SESSION, `${kept} codes kept`);
  const latest = await redeem(server, APP, newest.at(-1)!, verifier);
  assert.equal(latest.res.status, 200, JSON.stringify(latest.body));
  const dropped = await redeem(server, APP, newest[0], verifier);
  assert.equal(dropped.res.status, 400, JSON.stringify(dropped.body));
  assert.equal(dropped.body.error, "invalid_grant");
});

Deno.test(`a browser whose app redeems each code at once never loses one: 40 codes issued and redeemed, at most ${MAX_CODES_PER_BROWSER_SESSION} kept`, async () => {
  await using server = await setUp();
  const { browser } = await authorizationCode(server, APP, { params: { scope: "openid hello" } });
  const { verifier, challenge } = await pkce();
  for (let i = 0; i < 40; i++) {
    const { res, body } = await redeem(
      server,
      APP,
      await ssoCode(server, browser, challenge),
      verifier,
    );
    assert.equal(res.status, 200, `code ${i}: ${JSON.stringify(body)}`);
  }
  const kept = rowsOf(server, "authorization_codes");
  assert.ok(kept <= MAX_CODES_PER_BROWSER_SESSION, `${kept} codes kept`);
});

Deno.test(`codes past their lifetime (${CODE_LIFETIME_SECONDS} s), used or not, are gone once the browser is issued its next code`, async () => {
  await using server = await setUp();
  const { browser } = await authorizationCode(server, APP, { params: { scope: "openid hello" } });
  const { verifier, challenge } = await pkce();
  const codes: string[] = [];
  for (let i = 0; i < 10; i++) codes.push(await ssoCode(server, browser, challenge));
  for (const code of codes.slice(0, 5)) {
    assert.equal((await redeem(server, APP, code, verifier)).res.status, 200);
  }
  using _later = clockAhead(CODE_LIFETIME_SECONDS + 1);
  const fresh = await ssoCode(server, browser, challenge);
  assert.equal(rowsOf(server, "authorization_codes"), 1, "only the live code is kept");
  const late = await redeem(server, APP, codes[9], verifier);
  assert.equal(late.body.error, "invalid_grant");
  const redeemed = await redeem(server, APP, fresh, verifier);
  assert.equal(redeemed.res.status, 200, JSON.stringify(redeemed.body));
});

/** A browser without a session behind the trusted proxy, coming from `address`. */
function browserFrom(server: TestServer, address: string): CookieBrowser {
  const browser = new CookieBrowser(server);
  browser.headers = { "x-forwarded-for": address };
  return browser;
}

/** Opens the sign-in page from a new browser at `address`; returns the browser and answer. */
async function openSignIn(server: TestServer, address: string) {
  const browser = browserFrom(server, address);
  const { challenge, verifier } = await pkce();
  const res = await browser.get(
    authorizeUrl(server, APP, { scope: "openid hello", code_challenge: challenge }),
  );
  return { browser, res, html: await res.text(), verifier };
}

/** Asserts the refusal of one more sign-in page: a 429 page that says why. */
function assertRefusedPage(res: Response, html: string): void {
  assert.equal(res.status, 429, `one page too many is refused, not answered ${res.status}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(retryAfter > 0 && retryAfter <= 600, `Retry-After ${retryAfter}: when a place frees`);
  assert.match(html, /too many/i);
  assert.doesNotMatch(html, /name="csrf_token"/, "no form to sign in with");
}

Deno.test(`one address may have ${MAX_PENDING_SIGN_INS_PER_ADDRESS} unfinished sign-in pages: the next is a 429 page, other addresses are unaffected, and finishing one frees its place`, async () => {
  await using server = await setUp({ TRUSTED_PROXIES: "127.0.0.1" });
  const a = "198.51.100.7";
  const pages = [];
  for (let i = 0; i < MAX_PENDING_SIGN_INS_PER_ADDRESS; i++) {
    const page = await openSignIn(server, a);
    assert.equal(page.res.status, 200, `page ${i}: ${page.html}`);
    pages.push(page);
  }
  const over = await openSignIn(server, a);
  assertRefusedPage(over.res, over.html);
  assert.equal(rowsOf(server, "pending_requests"), MAX_PENDING_SIGN_INS_PER_ADDRESS);

  const other = await openSignIn(server, "198.51.100.8");
  assert.equal(other.res.status, 200, "another address has places of its own");

  const [first] = pages;
  const signedIn = await first.browser.signIn(formFields(first.html), "alice", PASSWORD);
  assert.ok(redirectedTo(signedIn, REDIRECT_URI).get("code"), "a page already shown still works");
  const freed = await openSignIn(server, a);
  assert.equal(freed.res.status, 200, "finishing a sign-in freed its place");
  const full = await openSignIn(server, a);
  assertRefusedPage(full.res, full.html);

  const { challenge } = await pkce();
  const sso = await first.browser.get(
    authorizeUrl(server, APP, { scope: "openid hello", code_challenge: challenge }),
  );
  assert.ok(redirectedTo(sso, REDIRECT_URI).get("code"), "a signed-in browser is not limited");
});

Deno.test(`${MAX_PENDING_SIGN_INS_PER_ADDRESS + 30} sign-in pages from one address at once: exactly ${MAX_PENDING_SIGN_INS_PER_ADDRESS} are shown, the rest refused`, async () => {
  await using server = await setUp({ TRUSTED_PROXIES: "127.0.0.1" });
  const answers = await Promise.all(
    Array.from(
      { length: MAX_PENDING_SIGN_INS_PER_ADDRESS + 30 },
      () => openSignIn(server, "203.0.113.5"),
    ),
  );
  const statuses = answers.map(({ res }) => res.status);
  const shown = statuses.filter((status) => status === 200).length;
  const refused = statuses.filter((status) => status === 429).length;
  assert.deepEqual({ shown, refused }, { shown: MAX_PENDING_SIGN_INS_PER_ADDRESS, refused: 30 });
  assert.equal(rowsOf(server, "pending_requests"), MAX_PENDING_SIGN_INS_PER_ADDRESS);
});

Deno.test(`a sign-in page shown again after a refused passkey still counts against its address: ${MAX_PENDING_SIGN_INS_PER_ADDRESS} pages refused by passkey leave no room for more`, async () => {
  await using server = await setUp({ TRUSTED_PROXIES: "127.0.0.1" });
  const a = "198.51.100.9";
  const pages = [];
  for (let i = 0; i < MAX_PENDING_SIGN_INS_PER_ADDRESS; i++) {
    pages.push(await openSignIn(server, a));
  }
  for (const page of pages) {
    const refused = await page.browser.post("/sign-in/passkey", {
      ...passkeyFormFields(page.html),
      credential: "{}",
    });
    const html = await refused.text();
    assert.equal(refused.status, 400, html);
    assert.match(html, /<h1>Sign in<\/h1>/, "the page again, under a new step");
  }
  assert.equal(rowsOf(server, "pending_requests"), MAX_PENDING_SIGN_INS_PER_ADDRESS);
  const over = await openSignIn(server, a);
  assertRefusedPage(over.res, over.html);
});
