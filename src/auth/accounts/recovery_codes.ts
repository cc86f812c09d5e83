/**
 * @module
 * Recovery codes: ten random single-use codes a person keeps for when the authenticator app is
 * lost, shown once and stored only as SHA-256. Typed back, case, spaces and dashes do not
 * matter. It keeps no state.
 */
import { sha256Hex } from "../secrets.ts";

/** How many codes a new set has. */
const RECOVERY_CODE_COUNT = 10;
/** 32 letters and digits without the look-alikes 0/o and 1/l: 5 bits each. */
const ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
/** Characters per code: 10 of 5 bits, 50 bits each (checks are throttled like logins). */
const CODE_LENGTH = 10;

/** A new set of codes, as shown to the person (`xxxxx-xxxxx`). */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = crypto.getRandomValues(new Uint8Array(CODE_LENGTH));
    const chars = Array.from(bytes, (byte) => ALPHABET[byte & 31]).join("");
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** The stored form of a typed code; undefined for anything that cannot be one. */
export async function recoveryCodeHash(typed: string): Promise<string | undefined> {
  const normalized = typed.toLowerCase().replace(/[\s-]/g, "");
  if (!new RegExp(`^[${ALPHABET}]{${CODE_LENGTH}}$`).test(normalized)) return undefined;
  return await sha256Hex(`recovery:${normalized}`);
}
