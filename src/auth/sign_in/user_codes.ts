/**
 * @module
 * User codes of the device flow (RFC 8628 §6.1): eight letters from an alphabet without vowels
 * (no words) or look-alikes (no 0/O, 1/I/L), shown as `XXXX-XXXX`, and read back however a
 * person types them (any case, dashes and spaces anywhere). 20⁸ ≈ 2.6·10¹⁰ codes; the page's
 * throttle keeps guessing far below that. It stores nothing.
 */

/** The letters of a user code. */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
/** Letters in a user code. */
export const USER_CODE_LENGTH = 8;

/** A new random user code in its normal form (no dash), without modulo bias. */
export function newUserCode(): string {
  const letters: string[] = [];
  // 240 is the largest multiple of 20 below 256: bytes beyond it are drawn again.
  const limit = 256 - (256 % USER_CODE_ALPHABET.length);
  while (letters.length < USER_CODE_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(USER_CODE_LENGTH * 2))) {
      if (byte >= limit || letters.length === USER_CODE_LENGTH) continue;
      letters.push(USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length]);
    }
  }
  return letters.join("");
}

/** A user code as people read it: `BCDF-GHJK`. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * A typed user code in its normal form (upper case, no dashes or spaces), or undefined when it
 * cannot be one: then it is not looked up at all.
 */
export function normalizeUserCode(typed: string): string | undefined {
  const code = typed.replace(/[\s\-‐‑–—]/g, "").toUpperCase();
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const letter of code) if (!USER_CODE_ALPHABET.includes(letter)) return undefined;
  return code;
}
