/**
 * @module
 * Proof Key for Code Exchange (RFC 7636) with the S256 method only: `plain` is refused, as
 * RFC 9700 §2.1.1 recommends.
 */
import { timingSafeEqual } from "node:crypto";

/** The one code challenge method accepted. */
export const CODE_CHALLENGE_METHOD = "S256";
/** An S256 challenge: base64url of a SHA-256 digest. */
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** A code verifier (RFC 7636 §4.1). */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** Whether `value` has the shape of an S256 code challenge. */
export function isCodeChallenge(value: string): boolean {
  return CODE_CHALLENGE.test(value);
}

/** The S256 challenge of a code verifier. */
export async function codeChallengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return new Uint8Array(digest).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Whether `verifier` is well-formed and its S256 challenge is `challenge` (constant time). */
export async function verifierMatches(
  verifier: string | undefined,
  challenge: string,
): Promise<boolean> {
  if (verifier === undefined || !CODE_VERIFIER.test(verifier)) return false;
  const computed = new TextEncoder().encode(await codeChallengeOf(verifier));
  const expected = new TextEncoder().encode(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
