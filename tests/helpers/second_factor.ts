/**
 * @module
 * Second factors in tests: codes computed by Debian's `oathtool` (an implementation independent
 * of ours), and setting up an authenticator app through the account page as a person would.
 */
import assert from "node:assert/strict";
import { OATHTOOL } from "./prerequisites.ts";
import { type CookieBrowser, formFields } from "./oidc.ts";

/** The TOTP code of `secret` (base32) at `atSeconds`, computed by `oathtool`. */
export async function oathtoolCode(secret: string, atSeconds: number): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(OATHTOOL.path, {
    args: ["--totp", "--base32", "--now", `@${atSeconds}`, secret],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const text = new TextDecoder().decode(stdout).trim();
  assert.match(text, /^[0-9]{6}$/);
  return text;
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The account page's overview for a signed-in browser: its HTML and form fields. */
export async function accountPage(
  browser: CookieBrowser,
): Promise<{ html: string; res: Response }> {
  const res = await browser.get(`${browser.server.url}/account`);
  return { html: await res.text(), res };
}

/**
 * Sets up an authenticator app for the signed-in browser's user: starts it on the account page,
 * confirms it with an `oathtool` code, and returns the secret and the recovery codes shown.
 */
export async function enrolTotp(
  browser: CookieBrowser,
): Promise<{ secret: string; recoveryCodes: string[]; confirmedAt: number }> {
  const overview = await accountPage(browser);
  assert.equal(overview.res.status, 200, overview.html);
  const started = await browser.post("/account/totp", { ...formFields(overview.html) });
  const enrolment = await started.text();
  assert.equal(started.status, 200, enrolment);
  const secret = /id="totp-secret">([A-Z2-7]+)</.exec(enrolment)?.[1];
  assert.ok(secret, enrolment);
  const confirmedAt = nowSeconds();
  const confirmed = await browser.post("/account/totp/confirm", {
    ...{ ...formFields(enrolment) },
    code: await oathtoolCode(secret, confirmedAt),
  });
  const codesPage = await confirmed.text();
  assert.equal(confirmed.status, 200, codesPage);
  const recoveryCodes = [...codesPage.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((
    match,
  ) => match[1]);
  assert.equal(recoveryCodes.length, 10, codesPage);
  return { secret, recoveryCodes, confirmedAt };
}
