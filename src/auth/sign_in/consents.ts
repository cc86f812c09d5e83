/**
 * @module
 * What users have allowed third-party clients, remembered per user and client. Whether to ask
 * again is the sign-in flow's decision (`next_step.ts`).
 */
import { unixNow } from "../../clock.ts";
import type { SignInStore } from "../../store/sign_in.ts";
import { scopeTokens } from "../scopes.ts";

/**
 * Consents.
 *
 * @example
 * ```ts
 * await consents.grant("alice", "app", "openid profile");
 * await consents.granted("alice", "app"); // "openid profile"
 * ```
 */
export class Consents {
  #store: SignInStore;

  constructor(store: SignInStore) {
    this.#store = store;
  }

  /** The scope the user has allowed the client so far; empty when nothing. */
  async granted(username: string, clientId: string): Promise<string> {
    return await this.#store.getConsent(username, clientId) ?? "";
  }

  /** Remembers that the user allowed `scope` to the client, besides what they allowed before. */
  async grant(username: string, clientId: string, scope: string): Promise<void> {
    const before = await this.granted(username, clientId);
    const all = scopeTokens(`${before} ${scope}`).join(" ");
    await this.#store.saveConsent(username, clientId, all, unixNow());
  }
}
