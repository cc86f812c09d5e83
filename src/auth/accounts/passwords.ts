/**
 * @module
 * Password hashing: PBKDF2-HMAC-SHA256 in PHC strings, parsed strictly (a 16-byte salt, a
 * 32-byte digest, an iteration count between the floor and a ceiling), and a dummy hash of the
 * same cost as the stored ones for unknown users. It never reads the store.
 */
import { timingSafeEqual } from "node:crypto";

/** OWASP's 2023 floor for PBKDF2-HMAC-SHA256. */
export const MIN_PBKDF2_ITERATIONS = 600_000;
/**
 * Stored hashes claiming more iterations than this are refused, not computed (seconds of one
 * core each), so that a corrupt or planted count cannot stall logins.
 */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Unpadded base64 of exactly 16 and 32 bytes is 22 and 43 characters. */
const PHC_PATTERN = /^\$pbkdf2-sha256\$i=([1-9]\d{0,8})\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/;

/** Result of checking a password against a stored hash. */
export interface PasswordCheck {
  /** Whether the password matches. */
  ok: boolean;
  /** Whether the stored hash uses weaker parameters than the current ones. */
  needsRehash: boolean;
  /** Why the stored string cannot be a hash this service made; no PBKDF2 was run then. */
  unusable?: string;
}

/** Options of a {@linkcode Passwords}. */
export interface PasswordOptions {
  /**
   * Fewest iterations a stored hash may have ({@linkcode MIN_PBKDF2_ITERATIONS} unless lowered,
   * which only tests do, to keep their hashes cheap).
   */
  minIterations?: number;
}

/**
 * Hashes and verifies passwords with PBKDF2-HMAC-SHA256 through Web Crypto (off the main
 * thread), stored as PHC strings: `$pbkdf2-sha256$i=600000$<salt>$<hash>` (unpadded base64).
 *
 * @example
 * ```ts
 * const passwords = new Passwords();
 * const stored = await passwords.hash("password1");
 * (await passwords.verify("password1", stored)).ok; // true
 * ```
 */
export class Passwords {
  readonly iterations: number;
  /** Fewest iterations a stored hash may have. */
  readonly minIterations: number;
  #dummyHash?: Promise<string>;

  constructor(iterations = MIN_PBKDF2_ITERATIONS, options: PasswordOptions = {}) {
    const minIterations = options.minIterations ?? MIN_PBKDF2_ITERATIONS;
    if (
      !Number.isSafeInteger(iterations) || !Number.isSafeInteger(minIterations) ||
      minIterations < 1 || iterations < minIterations || iterations > MAX_PBKDF2_ITERATIONS
    ) {
      throw new RangeError(`Invalid PBKDF2 iteration count "${iterations}"`);
    }
    this.iterations = iterations;
    this.minIterations = minIterations;
  }

  /** Hashes a password with a fresh random salt. */
  hash(password: string): Promise<string> {
    return this.#hashWith(password, this.iterations);
  }

  /**
   * Checks a password against a stored PHC string in constant time. A string that is not
   * exactly a hash this service makes (`unusable` says why) fails without running PBKDF2.
   */
  async verify(password: string, stored: string): Promise<PasswordCheck> {
    const parsed = this.#parse(stored);
    if (typeof parsed === "string") return { ok: false, needsRehash: false, unusable: parsed };
    const actual = await pbkdf2(password, parsed.salt, parsed.iterations, HASH_BYTES);
    const ok = timingSafeEqual(actual, parsed.digest);
    return { ok, needsRehash: ok && parsed.iterations < this.iterations };
  }

  /** Spends the same time as a real check, for logins whose user does not exist. */
  async verifyDummy(password: string): Promise<void> {
    await this.verify(password, await this.prepare());
  }

  /**
   * Makes the dummy hash ahead of the first unknown-user login, so that one is not slower. Its
   * iteration count is the one most stored hashes have (`storedCounts`, users per count; the
   * larger count on a tie), so that an unknown name costs what a typical real one does, even
   * before old hashes have been upgraded at their users' logins; the current count when there
   * are none. Only the first call decides.
   */
  prepare(
    storedCounts: ReadonlyMap<number, number> | Promise<ReadonlyMap<number, number>> = new Map(),
  ): Promise<string> {
    this.#dummyHash ??= Promise.resolve(storedCounts).then((counts) =>
      this.#hashWith(crypto.randomUUID(), this.#typicalIterations(counts))
    );
    return this.#dummyHash;
  }

  #typicalIterations(storedCounts: ReadonlyMap<number, number>): number {
    let best = this.iterations;
    let bestUsers = 0;
    for (const [iterations, users] of storedCounts) {
      if (iterations < this.minIterations || iterations > MAX_PBKDF2_ITERATIONS) continue;
      if (users > bestUsers || (users === bestUsers && iterations > best)) {
        best = iterations;
        bestUsers = users;
      }
    }
    return best;
  }

  async #hashWith(password: string, iterations: number): Promise<string> {
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const hash = await pbkdf2(password, salt, iterations, HASH_BYTES);
    return `$pbkdf2-sha256$i=${iterations}$${b64(salt)}$${b64(hash)}`;
  }

  #parse(
    stored: string,
  ):
    | { iterations: number; salt: Uint8Array<ArrayBuffer>; digest: Uint8Array<ArrayBuffer> }
    | string {
    const parsed = PHC_PATTERN.exec(stored);
    if (!parsed) {
      return "not a $pbkdf2-sha256$i=N$<16-byte salt>$<32-byte digest> string";
    }
    const iterations = Number(parsed[1]);
    if (iterations < this.minIterations || iterations > MAX_PBKDF2_ITERATIONS) {
      return `iteration count ${iterations} outside ${this.minIterations} to ${MAX_PBKDF2_ITERATIONS}`;
    }
    return {
      iterations,
      salt: Uint8Array.fromBase64(parsed[2]),
      digest: Uint8Array.fromBase64(parsed[3]),
    };
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
