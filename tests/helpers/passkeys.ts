/**
 * Passkeys in tests over HTTPS: a software passkey stored for a user as if registered, a new
 * browser's sign-in page with its passkey challenge, and posting an answer to it.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as oidc from "./oidc.ts";
import { subjectOf, type TestServer } from "./server.ts";
import { dataAttribute, SoftwareAuthenticator } from "./software_authenticator.ts";

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
export async function signInPage(server: TestServer, app: oidc.TestClient) {
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
