/**
 * @module
 * The subjects of accounts, for both backends: 128 random bits as 32 lowercase hexadecimal
 * digits, made once when an account is added. Nothing in one tells its user's name, and being
 * random, none is ever made again for another account (OpenID Connect Core §2: a `sub` is never
 * reassigned).
 */

/** Bytes of randomness in a subject. */
const SUBJECT_BYTES = 16;

/** A new subject for an account. */
export function newSubject(): string {
  return crypto.getRandomValues(new Uint8Array(SUBJECT_BYTES)).toHex();
}
