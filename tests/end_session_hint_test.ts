/**
 * RP-initiated logout when the `id_token_hint` is not for the browser's own session
 * (OpenID Connect RP-Initiated Logout 1.0 §2: the OP asks the user). An ID token is no secret of
 * the session it names: relying parties log it, pass it in URLs, keep it in browser storage. So
 * `/end-session` with someone else's ID token, from a browser without a session or with another
 * user's, and an ID token expired beyond the leeway from any browser, show a page that asks
 * (200 HTML, no redirect) and end nothing by themselves: the hint's user stays signed in and
 * their refresh tokens keep working, however many such requests arrive at once. With the
 * browser the hint names and a hint that is valid (or expired within the leeway), logging out
 * happens at once, as before.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import {
  authorizationCode,
  authorizeUrl,
  CookieBrowser,
  formFields,
  pkce,
  redeem,
  redirectedTo,
  type TestClient,
  tokenRequest,
} from "./helpers/oidc.ts";
import { runCli } from "./helpers/process.ts";
import { hello, startTestServer, type TestServer } from "./helpers/server.ts";
import { sleepUntil } from "./helpers/wait.ts";

const USERS = { alice: "alice-password-1", bob: "bob-password-1" };
const REDIRECT_URI = "https://app.example/callback";
const SIGNED_OUT = "https://app.example/signed-out";
const APP: TestClient = { clientId: "app", redirectUri: REDIRECT_URI };
/** Requests of the race, all at once. */
const RACERS = 48;

type Json = Record<string, unknown>;

/** A user signed in through "app" in a browser of their own, with the tokens it got. */
interface SignedIn {
  browser: CookieBrowser;
  tokens: Json;
}

/** A server with users alice and bob and the first-party public client "app". */
async function setUp(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer({ users: USERS, env });
  const added = await runCli([
    "clients",
    "add",
    "app",
    "--redirect-uri",
    REDIRECT_URI,
    "--post-logout-redirect-uri",
    SIGNED_OUT,
    "--public",
    "--first-party",
    "--scope",
    "openid hello",
  ], { cwd: server.dir, env: { DATABASE_URL: `sqlite:${server.dir}/data/auth.db` } });
  assert.equal(added.code, 0, added.stderr);
  return server;
}

async function signIn(server: TestServer, username: keyof typeof USERS): Promise<SignedIn> {
  const { code, verifier, browser } = await authorizationCode(server, APP, {
    username,
    password: USERS[username],
    params: { scope: "openid hello" },
  });
  const { res, body } = await redeem(server, APP, code, verifier);
  assert.equal(res.status, 200, JSON.stringify(body));
  return { browser, tokens: body };
}

/** Whether the browser is still signed in: `prompt=none` gets a code rather than an error. */
async function isSignedIn(server: TestServer, browser: CookieBrowser): Promise<boolean> {
  const { challenge } = await pkce();
  const res = await browser.get(
    authorizeUrl(server, APP, { scope: "openid hello", prompt: "none", code_challenge: challenge }),
  );
  const query = redirectedTo(res, REDIRECT_URI);
  if (query.has("code")) return true;
  assert.equal(query.get("error"), "login_required", String(query));
  return false;
}

/** Refreshes the user's tokens once (keeping the new ones); returns the status. */
async function refreshStatus(server: TestServer, user: SignedIn): Promise<number> {
  const { res, body } = await tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: String(user.tokens.refresh_token),
    client_id: APP.clientId,
  });
  if (res.status === 200) user.tokens = { ...user.tokens, ...body };
  return res.status;
}

/** Asserts that the user's browser is signed in and their access and refresh tokens work. */
async function assertUntouched(server: TestServer, user: SignedIn, who: string): Promise<void> {
  assert.equal(await isSignedIn(server, user.browser), true, `${who}'s browser is signed in`);
  assert.equal(await refreshStatus(server, user), 200, `${who}'s refresh token works`);
  const greeted = await hello(server, `Bearer ${user.tokens.access_token}`);
  assert.equal(greeted.res.status, 200, `${who}'s access token works`);
}

/** The end-session URL for a hint, with the registered post-logout URI and a state. */
function endSessionUrl(server: TestServer, hint: unknown): string {
  const url = new URL(`${server.url}/end-session`);
  url.searchParams.set("id_token_hint", String(hint));
  url.searchParams.set("post_logout_redirect_uri", SIGNED_OUT);
  url.searchParams.set("state", "bye");
  return url.href;
}

/** Asserts a page answer (200 HTML, no redirect) and returns its text. */
async function assertPage(res: Response, what: string): Promise<string> {
  const html = await res.text();
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.headers.get("location")}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, what);
  assert.equal(res.headers.get("location"), null, what);
  return html;
}

/** Asserts the question to the signed-in user `username`, and returns its form fields. */
function assertQuestionTo(html: string, username: string): { request: string; csrf_token: string } {
  assert.match(html, /<h1>Sign out\?<\/h1>/);
  assert.match(html, new RegExp(`<strong>${username}</strong>`));
  return formFields(html);
}

/** Submits every form a page carries as the browser that got it, as an attacker would. */
async function submitForms(browser: CookieBrowser, html: string): Promise<void> {
  if (!/name="csrf_token"/.test(html)) return;
  const res = await browser.post("/sign-out", { ...formFields(html) });
  assert.ok(res.status < 500, `sign-out form: ${res.status}`);
  await res.body?.cancel();
}

Deno.test("end-session with alice's ID token from a browser without a session signs nobody out: a page, and alice stays signed in", async () => {
  await using server = await setUp();
  const alice = await signIn(server, "alice");
  const attacker = new CookieBrowser(server);
  const got = await attacker.get(endSessionUrl(server, alice.tokens.id_token));
  const posted = await new CookieBrowser(server).post("/end-session", {
    id_token_hint: String(alice.tokens.id_token),
    post_logout_redirect_uri: SIGNED_OUT,
  });
  await assertUntouched(server, alice, "alice");
  await submitForms(attacker, await assertPage(got, "GET"));
  await submitForms(attacker, await assertPage(posted, "POST"));
  await assertUntouched(server, alice, "alice");
});

Deno.test("end-session with alice's ID token from bob's browser asks bob and signs out only bob", async () => {
  await using server = await setUp();
  const alice = await signIn(server, "alice");
  const bob = await signIn(server, "bob");
  const answer = await bob.browser.get(endSessionUrl(server, alice.tokens.id_token));
  await assertUntouched(server, alice, "alice");
  const fields = assertQuestionTo(await assertPage(answer, "from bob's browser"), "bob");
  assert.equal(await isSignedIn(server, bob.browser), true, "bob is only asked");

  const confirmed = await bob.browser.post("/sign-out", { ...fields });
  assert.ok([200, 303].includes(confirmed.status), `bob confirms: ${confirmed.status}`);
  await confirmed.body?.cancel();
  assert.equal(await isSignedIn(server, bob.browser), false, "bob signed out");
  assert.equal(await refreshStatus(server, bob), 400, "bob's refresh token ended with it");
  await assertUntouched(server, alice, "alice");
});

Deno.test("end-session with the ID token of alice's other browser asks alice and leaves that browser signed in", async () => {
  await using server = await setUp();
  const laptop = await signIn(server, "alice");
  const phone = await signIn(server, "alice");
  const answer = await phone.browser.get(endSessionUrl(server, laptop.tokens.id_token));
  const fields = assertQuestionTo(await assertPage(answer, "from alice's other browser"), "alice");
  await assertUntouched(server, laptop, "the laptop");
  assert.equal(await isSignedIn(server, phone.browser), true, "the phone is only asked");

  const confirmed = await phone.browser.post("/sign-out", { ...fields });
  assert.equal(confirmed.status, 303);
  assert.equal(confirmed.headers.get("location"), `${SIGNED_OUT}?state=bye`);
  assert.equal(await isSignedIn(server, phone.browser), false, "the phone signed out");
  await assertUntouched(server, laptop, "the laptop");
});

Deno.test("end-session with an ID token expired beyond the leeway asks, even from the browser it names, and ends nothing until confirmed", async () => {
  const leeway = 1;
  await using server = await setUp({ ACCESS_TOKEN_TTL: "1", JWT_LEEWAY: String(leeway) });
  const alice = await signIn(server, "alice");
  const { exp } = decodeJwt(String(alice.tokens.id_token));
  await sleepUntil(exp! + leeway + 1);
  const url = endSessionUrl(server, alice.tokens.id_token);

  const stranger = new CookieBrowser(server);
  const strangers = await stranger.get(url);
  assert.equal(await isSignedIn(server, alice.browser), true, "a stranger ends nothing");
  await submitForms(stranger, await assertPage(strangers, "without a session"));

  const own = await alice.browser.get(url);
  assert.equal(await isSignedIn(server, alice.browser), true, "asking ends nothing");
  const fields = assertQuestionTo(await assertPage(own, "from alice's browser"), "alice");
  assert.equal(await refreshStatus(server, alice), 200, "alice's refresh token works");

  const confirmed = await alice.browser.post("/sign-out", { ...fields });
  assert.equal(confirmed.status, 303);
  assert.equal(confirmed.headers.get("location"), `${SIGNED_OUT}?state=bye`);
  assert.equal(await isSignedIn(server, alice.browser), false, "signed out once confirmed");
  assert.equal(await refreshStatus(server, alice), 400);
});

Deno.test("end-session with an ID token expired within the leeway, from the browser it names, signs out at once", async () => {
  await using server = await setUp({ ACCESS_TOKEN_TTL: "1", JWT_LEEWAY: "30" });
  const alice = await signIn(server, "alice");
  const { exp } = decodeJwt(String(alice.tokens.id_token));
  await sleepUntil(exp! + 1);
  const res = await alice.browser.get(endSessionUrl(server, alice.tokens.id_token));
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), `${SIGNED_OUT}?state=bye`);
  assert.equal(alice.browser.cookie, undefined, "the cookie is deleted");
  assert.equal(await isSignedIn(server, alice.browser), false);
  assert.equal(await refreshStatus(server, alice), 400);
});

Deno.test("end-session with a valid ID token from the browser it names signs out at once and revokes its tokens", async () => {
  await using server = await setUp();
  const alice = await signIn(server, "alice");
  const res = await alice.browser.get(endSessionUrl(server, alice.tokens.id_token));
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), `${SIGNED_OUT}?state=bye`);
  assert.equal(alice.browser.cookie, undefined, "the cookie is deleted");
  assert.equal(await isSignedIn(server, alice.browser), false);
  assert.equal((await hello(server, `Bearer ${alice.tokens.access_token}`)).res.status, 401);
  assert.equal(await refreshStatus(server, alice), 400);
});

Deno.test(`${RACERS} end-session requests with alice's ID token at once, without a session and from bob's browser, GET and POST, change nothing`, async () => {
  await using server = await setUp();
  const alice = await signIn(server, "alice");
  const bob = await signIn(server, "bob");
  const hint = String(alice.tokens.id_token);
  const statuses = await Promise.all(Array.from({ length: RACERS }, async (_, i) => {
    const browser = i % 4 < 2 ? new CookieBrowser(server) : bob.browser;
    const res = i % 2 === 0
      ? await browser.get(endSessionUrl(server, hint))
      : await browser.post("/end-session", { id_token_hint: hint });
    await res.body?.cancel();
    return res.status;
  }));
  await assertUntouched(server, alice, "alice");
  assert.equal(await isSignedIn(server, bob.browser), true, "bob was only asked");
  const others = statuses.filter((status) => status !== 200);
  assert.equal(others.length, 0, `every one is answered with a page, not ${new Set(others)}`);
});
