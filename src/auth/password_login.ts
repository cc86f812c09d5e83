/**
 * @module
 * Checking a username and password, shared by `/login` and the OAuth password grant: throttling,
 * one hash whichever part is wrong, and upgrading old hashes. It answers with the verified user or
 * an {@linkcode AuthFailure}; it never builds a response.
 */
import type { Store } from "../store/store.ts";
import { MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH } from "./credentials.ts";
import { AuthFailure, invalidCredentials } from "./errors.ts";
import type { PasswordHasher } from "./passwords.ts";
import type { LoginThrottle } from "./throttle.ts";

/**
 * A user whose password was just checked, with the stored hash it matched (after any upgrade):
 * a session starts only while that hash is still the user's.
 */
export interface VerifiedUser {
  username: string;
  passwordHash: string;
}

/**
 * Checks credentials: throttled first (no hashing while throttled), then one PBKDF2 run
 * whichever part is wrong, so answers do not tell which usernames exist. Hashes made with older
 * parameters are upgraded.
 */
export class PasswordLogin {
  #store: Store;
  #hasher: PasswordHasher;
  #throttle: LoginThrottle;

  constructor(deps: { store: Store; hasher: PasswordHasher; throttle: LoginThrottle }) {
    this.#store = deps.store;
    this.#hasher = deps.hasher;
    this.#throttle = deps.throttle;
  }

  /**
   * Returns the user when the credentials are right; throws AuthFailure `invalid_credentials` or
   * `throttled` otherwise.
   */
  async check(username: unknown, password: unknown, address: string): Promise<VerifiedUser> {
    const name = isField(username, MAX_USERNAME_LENGTH) ? username : "";
    const wait = await this.#throttle.retryAfter(name, address);
    if (wait > 0) {
      throw new AuthFailure("throttled", "Too many failed login attempts; try again later", {
        retryAfterSeconds: wait,
      });
    }
    const secret = isField(password, MAX_PASSWORD_LENGTH) ? password : "";
    const user = name ? await this.#store.getUser(name) : undefined;
    let ok = false;
    let needsRehash = false;
    if (user && secret) {
      ({ ok, needsRehash } = await this.#hasher.verify(secret, user.passwordHash));
    } else {
      await this.#hasher.verifyDummy(secret);
    }
    if (!user || !ok) {
      await this.#throttle.recordFailure(name, address);
      throw invalidCredentials();
    }
    await this.#throttle.recordSuccess(name);
    let passwordHash = user.passwordHash;
    if (needsRehash) {
      passwordHash = await this.#hasher.hash(secret);
      await this.#store.setPasswordHash(name, passwordHash);
    }
    return { username: name, passwordHash };
  }
}

function isField(value: unknown, maxLength: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= maxLength;
}
