/**
 * @module
 * OAuth clients: which exist (configured in `OAUTH_CLIENTS`, or registered in the store with
 * `clients add`), which must authenticate, and checking a presented secret in constant time.
 * Reading the credentials off a request is the HTTP layer's job.
 */
import { timingSafeEqual } from "node:crypto";
import type { ClientRecord, Store } from "../store/store.ts";
import { AuthFailure, invalidClient } from "./errors.ts";
import { digestsEqual, sha256Hex } from "./secrets.ts";

/** A client registered in the store, as the sign-in flow and the token endpoint see it. */
export interface RegisteredClient {
  clientId: string;
  /** What users are shown: the registered name, else the id. */
  displayName: string;
  /** Whether it has a secret and must authenticate. */
  confidential: boolean;
  redirectUris: readonly string[];
  postLogoutRedirectUris: readonly string[];
  /** First-party clients skip the consent page. */
  firstParty: boolean;
  /** Space-separated scopes it may ask for. */
  scope: string;
  grantTypes: readonly string[];
}

/** The client a request comes from. */
export interface ClientIdentity {
  clientId: string;
  /** True when the client proved a configured or registered secret. */
  authenticated: boolean;
  /** The registration, for a client registered in the store. */
  registered?: RegisteredClient;
}

/** A client id: 1 to 128 printable ASCII characters without space. */
export const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * OAuth clients: confidential ones configured with a secret (`OAUTH_CLIENTS`), clients registered
 * in the store (confidential ones keep only a SHA-256 of their secret), and public first-party
 * clients that only name themselves. A configured client shadows a registered one of that id.
 */
export class ClientRegistry {
  #secrets: Map<string, Uint8Array>;
  #store?: Store;
  readonly defaultClientId: string;

  constructor(secrets: Record<string, string>, defaultClientId: string, store?: Store) {
    this.#secrets = new Map(
      Object.entries(secrets).map(([id, secret]) => [id, new TextEncoder().encode(secret)]),
    );
    this.defaultClientId = defaultClientId;
    this.#store = store;
  }

  /** The registered client of that id; undefined for unknown, malformed or configured ids. */
  async find(clientId: string): Promise<RegisteredClient | undefined> {
    if (!this.#store || !CLIENT_ID.test(clientId) || this.#secrets.has(clientId)) return undefined;
    const record = await this.#store.getClient(clientId);
    return record && registeredClient(record);
  }

  /**
   * Identifies the client from the credentials it presented. Wrong secrets, and confidential
   * clients without one, are `invalid_client`; no client id at all is the default client.
   */
  async identify(
    credentials: { clientId?: string; secret?: string },
  ): Promise<ClientIdentity> {
    const { clientId, secret } = credentials;
    if (clientId === undefined) {
      if (secret !== undefined) throw invalidClient("client_secret without client_id");
      return { clientId: this.defaultClientId, authenticated: false };
    }
    if (!CLIENT_ID.test(clientId)) throw new AuthFailure("invalid_request", "Malformed client_id");
    const expected = this.#secrets.get(clientId);
    const record = expected ? undefined : await this.#store?.getClient(clientId);
    if (record) return await identifyRegistered(record, secret);
    if (secret === undefined) {
      if (expected) throw invalidClient(`Client "${clientId}" must authenticate`);
      return { clientId, authenticated: false };
    }
    if (!expected || !await secretsEqual(secret, expected)) {
      throw invalidClient("Client authentication failed");
    }
    return { clientId, authenticated: true };
  }
}

/** Compares in constant time, also for secrets of different lengths (via their digests). */
async function secretsEqual(given: string, expected: Uint8Array): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(given)),
    crypto.subtle.digest("SHA-256", expected as Uint8Array<ArrayBuffer>),
  ]);
  return timingSafeEqual(new Uint8Array(a), new Uint8Array(b));
}

async function identifyRegistered(
  record: ClientRecord,
  secret: string | undefined,
): Promise<ClientIdentity> {
  const registered = registeredClient(record);
  if (record.secretHash === null) {
    if (secret !== undefined) throw invalidClient("Client authentication failed");
    return { clientId: record.clientId, authenticated: false, registered };
  }
  if (secret === undefined) throw invalidClient(`Client "${record.clientId}" must authenticate`);
  if (!digestsEqual(await sha256Hex(secret), record.secretHash)) {
    throw invalidClient("Client authentication failed");
  }
  return { clientId: record.clientId, authenticated: true, registered };
}

function registeredClient(record: ClientRecord): RegisteredClient {
  return {
    clientId: record.clientId,
    displayName: record.name ?? record.clientId,
    confidential: record.secretHash !== null,
    redirectUris: record.redirectUris,
    postLogoutRedirectUris: record.postLogoutRedirectUris,
    firstParty: record.firstParty,
    scope: record.scope,
    grantTypes: record.grantTypes,
  };
}
