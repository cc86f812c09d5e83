/**
 * @module
 * What users have allowed third-party clients, remembered per account (by subject, so that a
 * later account of the same name is asked again) and client. Whether to ask again is the
 * sign-in flow's decision (`next_step.ts`).
 */
import { unixNow } from "../../clock.ts";
import type { SignInStore } from "../../store/sign_in.ts";
import { scopeTokens } from "../scopes.ts";

/**
 * Consents.
 *
 * @example
 * ```ts
 * await consents.grant(session.subject, "app", "openid profile");
 * await consents.granted(session.subject, "app"); // "openid profile"
 * ```
 */
export class Consents {
  #store: SignInStore;

  constructor(store: SignInStore) {
    this.#store = store;
  }

  /** The scope the account has allowed the client so far; empty when nothing. */
  async granted(subject: string, clientId: string): Promise<string> {
    return await this.#store.getConsent(subject, clientId) ?? "";
  }

  /** Remembers that the account allowed `scope` to the client, besides what it allowed before. */
  async grant(subject: string, clientId: string, scope: string): Promise<void> {
    const before = await this.granted(subject, clientId);
    const all = scopeTokens(`${before} ${scope}`).join(" ");
    await this.#store.saveConsent(subject, clientId, all, unixNow());
  }
}
