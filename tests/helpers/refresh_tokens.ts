/**
 * Refresh tokens as the service makes and stores them, for tests that plant or look up sessions
 * in the store directly: a random token, and the SHA-256 the store keys it by.
 *
 * @module
 */

/** The SHA-256 of a token in hex, as the store keys refresh tokens. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest).toHex();
}

/** A new random refresh token in the service's format (32 bytes, base64url). */
export function randomRefreshToken(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}
