/**
 * @module
 * What users have allowed third-party clients, remembered per user and client; first-party
 * clients never ask.
 */
import { unixNow } from "../../clock.ts";
import type { Store } from "../../store/store.ts";
import type { RegisteredClient } from "../clients/registry.ts";
import { scopeTokens } from "../scopes.ts";

/**
 * Consents.
 *
 * @example
 * ```ts
 * if (await consents.required("alice", client, "openid profile")) showConsentPage();
 * await consents.grant("alice", client.clientId, "openid profile");
 * ```
 */
export class Consents {
  #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Whether the user must be asked: never for first-party clients; for others when asked to
   * (`prompt=consent`) or when the scope goes beyond what they allowed before.
   */
  async required(
    username: string,
    client: RegisteredClient,
    scope: string,
    prompt = false,
  ): Promise<boolean> {
    if (client.firstParty) return false;
    if (prompt) return true;
    const granted = scopeTokens(await this.#store.getConsent(username, client.clientId) ?? "");
    return scopeTokens(scope).some((token) => !granted.includes(token));
  }

  /** Remembers that the user allowed `scope` to the client, besides what they allowed before. */
  async grant(username: string, clientId: string, scope: string): Promise<void> {
    const before = await this.#store.getConsent(username, clientId) ?? "";
    const all = scopeTokens(`${before} ${scope}`).join(" ");
    await this.#store.saveConsent(username, clientId, all, unixNow());
  }
}
