/**
 * @module
 * Authenticator-app codes (TOTP, RFC 6238, with the parameters every app supports: SHA-1, six
 * digits, 30-second steps): new secrets, the `otpauth://` URI an app scans, and which time step
 * a code belongs to within one step either side. It keeps no state: whether a step was used
 * before is the store's to decide.
 */
import { Secret, TOTP } from "otpauth";
import type { UnixSeconds } from "../../clock.ts";

/** Seconds per time step. */
const TOTP_PERIOD_SECONDS = 30;
/** Digits of a code. */
const TOTP_DIGITS = 6;
/** Steps either side of the current one that are accepted, for clock skew and typing time. */
const TOTP_WINDOW_STEPS = 1;
/** Bytes of a new secret (160 bits, the HMAC-SHA-1 block RFC 4226 recommends). */
const SECRET_BYTES = 20;

/** A new random secret, base32 as apps and `oathtool --base32` take it. */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** The `otpauth://totp/…` URI that apps read from a QR code. */
export function totpUri(secret: string, names: { issuer: string; account: string }): string {
  return totpOf(secret, names).toString();
}

/**
 * The time step `code` belongs to at `now`, within {@linkcode TOTP_WINDOW_STEPS} either side;
 * undefined for a code of no step near now, or anything that is not six digits.
 */
export function matchingStep(secret: string, code: string, now: UnixSeconds): number | undefined {
  if (!/^[0-9]{6}$/.test(code)) return undefined;
  const timestamp = now * 1000;
  const delta = totpOf(secret).validate({ token: code, timestamp, window: TOTP_WINDOW_STEPS });
  if (delta === null) return undefined;
  return Math.floor(now / TOTP_PERIOD_SECONDS) + delta;
}

function totpOf(secret: string, names: { issuer?: string; account?: string } = {}): TOTP {
  return new TOTP({
    issuer: names.issuer,
    label: names.account,
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secret),
  });
}
