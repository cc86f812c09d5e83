/**
 * @module
 * Password hashing: PBKDF2-HMAC-SHA256 through Web Crypto, stored as PHC strings, verified in
 * constant time. It knows nothing of users or of the store.
 */
import { timingSafeEqual } from "node:crypto";

/** OWASP's 2023 floor for PBKDF2-HMAC-SHA256. */
export const MIN_PBKDF2_ITERATIONS = 600_000;
/** Stored hashes claiming more iterations than this are treated as corrupt, not computed. */
const MAX_PBKDF2_ITERATIONS = 100_000_000;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const PHC_PATTERN = /^\$pbkdf2-sha256\$i=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Result of checking a password against a stored hash. */
export interface PasswordCheck {
  /** Whether the password matches. */
  ok: boolean;
  /** Whether the stored hash uses weaker parameters than the current ones. */
  needsRehash: boolean;
}

/**
 * Hashes and verifies passwords with PBKDF2-HMAC-SHA256 through Web Crypto (off the main
 * thread), stored as PHC strings: `$pbkdf2-sha256$i=600000$<salt>$<hash>` (unpadded base64).
 *
 * @example
 * ```ts
 * const hasher = new PasswordHasher();
 * const stored = await hasher.hash("password1");
 * (await hasher.verify("password1", stored)).ok; // true
 * ```
 */
export class PasswordHasher {
  readonly iterations: number;
  #dummyHash?: Promise<string>;

  constructor(iterations = MIN_PBKDF2_ITERATIONS) {
    if (!Number.isSafeInteger(iterations) || iterations < 1) {
      throw new RangeError(`Invalid PBKDF2 iteration count "${iterations}"`);
    }
    this.iterations = iterations;
  }

  /** Hashes a password with a fresh random salt. */
  async hash(password: string): Promise<string> {
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const hash = await pbkdf2(password, salt, this.iterations, HASH_BYTES);
    return `$pbkdf2-sha256$i=${this.iterations}$${b64(salt)}$${b64(hash)}`;
  }

  /** Checks a password against a stored PHC string in constant time. */
  async verify(password: string, stored: string): Promise<PasswordCheck> {
    const parsed = PHC_PATTERN.exec(stored);
    if (!parsed) return { ok: false, needsRehash: false };
    const iterations = Number(parsed[1]);
    if (iterations > MAX_PBKDF2_ITERATIONS) return { ok: false, needsRehash: false };
    let ok: boolean;
    try {
      // A damaged string (bad base64, i=0, i past 2^32 - 1) fails the check instead of throwing.
      const salt = Uint8Array.fromBase64(parsed[2]);
      const expected = Uint8Array.fromBase64(parsed[3]);
      const actual = await pbkdf2(password, salt, iterations, expected.length);
      ok = timingSafeEqual(actual, expected);
    } catch {
      return { ok: false, needsRehash: false };
    }
    return { ok, needsRehash: ok && iterations < this.iterations };
  }

  /** Spends the same time as a real check, for logins whose user does not exist. */
  async verifyDummy(password: string): Promise<void> {
    await this.verify(password, await this.prepare());
  }

  /** Makes the dummy hash ahead of the first unknown-user login, so that one is not slower. */
  prepare(): Promise<string> {
    this.#dummyHash ??= this.hash(crypto.randomUUID());
    return this.#dummyHash;
  }
}

async function pbkdf2(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
  bytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

function b64(bytes: Uint8Array): string {
  return bytes.toBase64({ omitPadding: true });
}
