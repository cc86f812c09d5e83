/**
 * A real browser for end-to-end tests: Debian's Chromium, headless, driven by puppeteer-core,
 * trusting only the test certificate (by the SHA-256 of its public key, never by turning
 * certificate checks off), with a new empty profile each time.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import puppeteer, { type Browser } from "puppeteer-core";
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
