/**
 * @module
 * Checking a username and password, shared by `/login` and the OAuth password grant: throttling,
 * one hash whichever part is wrong, and upgrading old hashes. It answers with a username or an
 * {@linkcode AuthFailure}; it never builds a response.
 */
import type { Store } from "../store/store.ts";
import { MAX_PASSWORD_LENGTH, usernameProblem } from "./credentials.ts";
import { AuthFailure, invalidCredentials } from "./errors.ts";
import type { PasswordHasher } from "./passwords.ts";
import type { LoginThrottle } from "./throttle.ts";

/**
 * Checks credentials: throttled first (no hashing while throttled), then one PBKDF2 run
 * whichever part is wrong, so answers do not tell which usernames exist. Hashes made with older
 * parameters are upgraded, unless the password changed meanwhile. A name no user could have
 * (control characters, NUL, broken Unicode) counts as an unknown user and never reaches the store.
 */
export class PasswordLogin {
  #store: Store;
  #hasher: PasswordHasher;
  #throttle: LoginThrottle;
  #onUnusableHash: (username: string, problem: string) => void;
  /** Stored strings already reported, so that each is reported once, not at every attempt. */
  #reported = new Set<string>();

  constructor(deps: {
    store: Store;
    hasher: PasswordHasher;
    throttle: LoginThrottle;
    /** Told once about each stored hash that cannot be checked (the login fails). */
    onUnusableHash?: (username: string, problem: string) => void;
  }) {
    this.#store = deps.store;
    this.#hasher = deps.hasher;
    this.#throttle = deps.throttle;
    this.#onUnusableHash = deps.onUnusableHash ?? (() => {});
  }

  /**
   * Returns the username when the credentials are right; throws AuthFailure
   * `invalid_credentials` or `throttled` otherwise.
   */
  async check(username: unknown, password: unknown, address: string): Promise<string> {
    const name = typeof username === "string" && !usernameProblem(username) ? username : "";
    const wait = await this.#throttle.retryAfter(name, address);
    if (wait > 0) {
      throw new AuthFailure("throttled", "Too many failed login attempts; try again later", {
        retryAfterSeconds: wait,
      });
    }
    const secret = isField(password, MAX_PASSWORD_LENGTH) ? password : "";
    const user = name ? await this.#store.getUser(name) : undefined;
    let check = { ok: false, needsRehash: false };
    if (user && secret) {
      const result = await this.#hasher.verify(secret, user.passwordHash);
      if (result.unusable !== undefined) {
        this.#report(name, user.passwordHash, result.unusable);
        await this.#hasher.verifyDummy(secret); // the same time as a real check
      }
      check = result;
    } else {
      await this.#hasher.verifyDummy(secret);
    }
    if (!check.ok) {
      await this.#throttle.recordFailure(name, address);
      throw invalidCredentials();
    }
    await this.#throttle.recordSuccess(name);
    if (check.needsRehash) {
      // Only while the stored hash is the one just checked: a `user passwd` that ran meanwhile
      // must not be undone by an upgrade of the old password.
      const upgraded = await this.#hasher.hash(secret);
      await this.#store.replacePasswordHash(name, user!.passwordHash, upgraded);
    }
    return name;
  }

  #report(username: string, stored: string, problem: string): void {
    if (this.#reported.has(stored)) return;
    this.#reported.add(stored);
    this.#onUnusableHash(username, problem);
  }
}

function isField(value: unknown, maxLength: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= maxLength;
}
