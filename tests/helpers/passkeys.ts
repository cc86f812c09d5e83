/**
 * Passkeys in tests over HTTPS: a software passkey stored for a user as if registered, a new
 * browser's sign-in page with its passkey challenge, posting an answer to it (signing in, or
 * refused), and the passkey asked for as the second factor after the password.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as oidc from "./oidc.ts";
import { subjectOf, type TestServer } from "./server.ts";
import {
  type AnswerOptions,
  dataAttribute,
  SoftwareAuthenticator,
} from "./software_authenticator.ts";

/** What a passkey test is given: its server and the app. */
export interface PasskeyTestContext {
  server: TestServer;
  app: oidc.TestClient;
}

/** The users of a passkey test's server. */
export const PASSKEY_TEST_USERS: Record<string, string> = {
  alice: oidc.PASSWORD,
  bob: "bob-password-1",
};

/**
 * Defines a test on a new server (with `env` as its environment) with alice and bob, and the
 * app; the server stops when the test ends.
 */
export function passkeyTest(
  definition: string | { name: string; env?: Record<string, string> },
  fn: (context: PasskeyTestContext) => Promise<void>,
): void {
  const { name, env } = typeof definition === "string" ? { name: definition } : definition;
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const { server, app } = await oidc.startServerWithApp({ users: PASSKEY_TEST_USERS, env });
      await using _ = server;
      await fn({ server, app });
    },
  });
}

/** The pending step of the passkey sign-in a new browser was shown. */
export interface PasskeyPage {
  browser: oidc.CookieBrowser;
  fields: oidc.FormFields;
  challenge: string;
  verifier: string;
}

/** A software passkey of `username`, stored as if registered. */
export async function passkeyOf(
  server: TestServer,
  username: string,
  options: { backupEligible?: boolean } = {},
): Promise<SoftwareAuthenticator> {
  const authenticator = await SoftwareAuthenticator.create(server.url, options);
  const stored = await server.store.addPasskey(
    authenticator.record(await subjectOf(server, username)),
  );
  assert.ok(stored);
  return authenticator;
}

/** A new browser's sign-in page: its form fields, passkey challenge and PKCE verifier. */
export async function signInPage(server: TestServer, app: oidc.TestClient): Promise<PasskeyPage> {
  const browser = new oidc.CookieBrowser(server);
  const { verifier, challenge } = await oidc.pkce();
  const res = await browser.get(oidc.authorizeUrl(server, app, { code_challenge: challenge }));
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /autocomplete="username webauthn"/);
  // One `request` value in the page, as scripts that read the form (the README's) expect.
  assert.equal(html.match(/name="request" value=/g)?.length, 1, html);
  const options = dataAttribute(html, "data-passkey-request");
  assert.equal(options.userVerification, "required");
  assert.deepEqual(options.allowCredentials, [], "discoverable: no credential is named");
  const csp = res.headers.get("content-security-policy")!;
  assert.match(csp, /script-src 'self';/);
  return {
    browser,
    fields: oidc.formFields(html),
    challenge: options.challenge as string,
    verifier,
  };
}

/** Posts a passkey answer (`credential`) to the pending step's form at `path`. */
export function postPasskey(
  browser: oidc.CookieBrowser,
  fields: oidc.FormFields,
  credential: string,
  path = "/sign-in/passkey",
): Promise<Response> {
  return browser.post(path, { ...fields, credential });
}

/** The pending step a page's passkey form names (its data attributes, which the script posts). */
export function passkeyFormFields(html: string): oidc.FormFields {
  const attribute = (name: string) => {
    const match = new RegExp(`${name}="([^"]*)"`).exec(html);
    assert.ok(match, `The page's passkey form has "${name}": ${html}`);
    return match[1];
  };
  return { request: attribute("data-request"), csrf_token: attribute("data-csrf-token") };
}

/** A new browser's sign-in page answered by `key` (bent as `bend` says): the page and the answer. */
export async function answerWithPasskey(
  server: TestServer,
  app: oidc.TestClient,
  key: SoftwareAuthenticator,
  bend: AnswerOptions = {},
): Promise<PasskeyPage & { res: Response }> {
  const page = await signInPage(server, app);
  const res = await postPasskey(page.browser, page.fields, await key.assert(page.challenge, bend));
  return { ...page, res };
}

/**
 * A new browser signs in with `key` alone, which must send it back to the app with a code: the
 * browser, now signed in, with the code and the verifier that redeems it.
 */
export async function signInWithPasskey(
  server: TestServer,
  app: oidc.TestClient,
  key: SoftwareAuthenticator,
  bend: AnswerOptions = {},
): Promise<PasskeyPage & { code: string }> {
  const { res, ...page } = await answerWithPasskey(server, app, key, bend);
  const code = oidc.redirectedTo(res, app.redirectUri).get("code");
  assert.ok(code, "a code for the app");
  return { ...page, code };
}

/** Asserts a refused passkey: a 400 page that says `message`. */
export async function assertPasskeyRefused(
  res: Response,
  message: RegExp = /The passkey was not accepted/,
): Promise<void> {
  const html = await res.text();
  assert.equal(res.status, 400, html);
  assert.match(html, message);
}

/**
 * A new browser signs in with alice's password and must be asked for her passkey next: the
 * page's HTML, the step's form and the challenge to answer, and the PKCE verifier.
 */
export async function passkeyAfterPassword(
  server: TestServer,
  app: oidc.TestClient,
): Promise<PasskeyPage & { html: string }> {
  const page = await signInPage(server, app);
  const res = await page.browser.signIn(page.fields, "alice", oidc.PASSWORD);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /<h1>Use your passkey<\/h1>/);
  const challenge = dataAttribute(html, "data-passkey-request").challenge as string;
  return { ...page, html, fields: passkeyFormFields(html), challenge };
}

/** The path a passkey answer to the second-factor step is posted to. */
export const SECOND_FACTOR_PASSKEY_PATH = "/sign-in/second-factor/passkey";
