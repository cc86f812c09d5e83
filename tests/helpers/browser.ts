/**
 * A real browser for end-to-end tests: Debian's Chromium, headless, driven by puppeteer-core,
 * trusting only the test certificate (by the SHA-256 of its public key, never by turning
 * certificate checks off), with a new empty profile each time.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { CHROMIUM } from "./prerequisites.ts";
import { tempDir } from "./temp_dir.ts";

/** The base64 SHA-256 of a certificate's SubjectPublicKeyInfo, as Chromium's SPKI list wants it. */
export async function spkiHash(certPem: string): Promise<string> {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(spki))).toBase64();
}

/** A running headless Chromium with its own profile directory, removed on dispose. */
export interface TestBrowser extends AsyncDisposable {
  browser: Browser;
}

/** Launches headless Chromium ({@linkcode CHROMIUM}) trusting exactly the certificate `certPem`. */
export async function launchBrowser(certPem: string): Promise<TestBrowser> {
  const profile = await tempDir("auth-api-chromium-");
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM.path,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile.path}`,
      `--ignore-certificate-errors-spki-list=${await spkiHash(certPem)}`,
    ],
  });
  return {
    browser,
    async [Symbol.asyncDispose]() {
      await browser.close();
      await profile[Symbol.asyncDispose]();
    },
  };
}

/** Where the test run writes screenshots (git-ignored). */
export const SCREENSHOT_DIR: string = new URL("../screenshots/", import.meta.url).pathname;

/**
 * The screenshots README.md shows, kept in the repository: `deno task screenshots` runs the
 * browser tests with `README_SCREENSHOTS=update`, which writes these there as well.
 */
export const README_SCREENSHOTS: readonly string[] = [
  "sign_in_page_passkey",
  "second_factor_page",
  "account_page_passkeys",
];

/** Where README.md's screenshots are kept. */
export const README_SCREENSHOT_DIR: string =
  new URL("../../src/pages/screenshots/", import.meta.url).pathname;

/**
 * Saves a screenshot of the whole page as `name`.png in {@linkcode SCREENSHOT_DIR}, and in
 * {@linkcode README_SCREENSHOT_DIR} too for README's when `README_SCREENSHOTS=update`.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: true });
  if (README_SCREENSHOTS.includes(name) && Deno.env.get("README_SCREENSHOTS") === "update") {
    await Deno.mkdir(README_SCREENSHOT_DIR, { recursive: true });
    await Deno.copyFile(path, `${README_SCREENSHOT_DIR}${name}.png`);
  }
}
