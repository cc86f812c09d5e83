/**
 * @module
 * A person changing their own password: the current one is checked as a login checks it
 * (throttled, counted on the account), the new one must pass the same rules as `user passwd`,
 * and the change ends every session of the user in the store's one transaction. It answers with
 * what changed or an {@linkcode AuthFailure}; it never builds a response.
 */
import { unixNow } from "../../clock.ts";
import type { AccountChange, AccountStore } from "../../store/accounts.ts";
import { AuthFailure } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import { passwordProblem } from "./credentials.ts";
import type { PasswordLogin } from "./password_login.ts";
import type { Passwords } from "./passwords.ts";

/**
 * Password changes by their owner.
 *
 * @example
 * ```ts
 * await change.change("alice", { current, next }, { address });
 * ```
 */
export class PasswordChange {
  #store: AccountStore;
  #hasher: Passwords;
  #passwordLogin: PasswordLogin;
  #events: SecurityEvents;

  constructor(deps: {
    store: AccountStore;
    hasher: Passwords;
    passwordLogin: PasswordLogin;
    events?: SecurityEvents;
  }) {
    this.#store = deps.store;
    this.#hasher = deps.hasher;
    this.#passwordLogin = deps.passwordLogin;
    this.#events = deps.events ?? UNRECORDED;
  }

  /**
   * Replaces the user's password when `current` is right and `next` acceptable, ending every
   * session of the user. Throws `invalid_credentials` or `throttled` for the current password,
   * `invalid_request` for an unacceptable new one.
   */
  async change(
    username: string,
    passwords: { current: string; next: string },
    source: { address: string; origin?: Origin },
  ): Promise<AccountChange> {
    const problem = passwordProblem(passwords.next);
    if (problem) throw new AuthFailure("invalid_request", problem);
    await this.#passwordLogin.check(username, passwords.current, {
      ...source,
      secondFactorNext: true,
    });
    const hash = await this.#hasher.hash(passwords.next);
    const change = await this.#store.changePassword(username, hash, unixNow());
    this.#events.record({
      event: "password_changed",
      subject: username,
      sessionsEnded: change.sessionsEnded,
    }, source.origin);
    return change;
  }
}
