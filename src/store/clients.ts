/**
 * @module
 * The clients part of the store's contract: the OAuth clients registered with `clients add`,
 * shared by every instance like users. It declares records and operations only; the backends
 * implement them.
 */
import type { UnixSeconds } from "../clock.ts";

/** An OAuth client registered with `clients add`, shared by every instance like users. */
export interface ClientRecord {
  clientId: string;
  /** Shown to users on the consent page; null to show the client id. */
  name: string | null;
  /** SHA-256 (hex) of a confidential client's secret; null for a public client. */
  secretHash: string | null;
  /** Where authorization answers may be sent, matched exactly. */
  redirectUris: string[];
  /** Where RP-initiated logout may send the browser back, matched exactly. */
  postLogoutRedirectUris: string[];
  /** First-party clients skip the consent page. */
  firstParty: boolean;
  /** Space-separated scopes the client may ask for. */
  scope: string;
  /** Grant types the client may use at the token endpoint. */
  grantTypes: string[];
  createdAt: UnixSeconds;
}

/** Registered OAuth clients. */
export interface ClientStore {
  /**
   * Registers a client; throws StoreFailure `duplicate_client` when the id is taken, and
   * `name_taken` when the client acts for itself ({@linkcode actsForItself}) and a user has that
   * id as name or subject (checked atomically with the insert, against `addUser` too).
   */
  addClient(record: ClientRecord): Promise<void>;
  /** Finds a registered client by exact id. */
  getClient(clientId: string): Promise<ClientRecord | undefined>;
  /** Lists registered clients in order of their ids. */
  listClients(): Promise<ClientRecord[]>;
  /** Removes a client and the consents given to it; false when there is no such client. */
  removeClient(clientId: string): Promise<boolean>;
  /** Replaces a confidential client's secret hash; false when there is no such client. */
  setClientSecretHash(clientId: string, secretHash: string): Promise<boolean>;
}

/**
 * Whether the client may get tokens for itself (the client credentials grant), whose `sub` is
 * its id: such an id may never be a user's name or subject.
 */
export function actsForItself(client: Pick<ClientRecord, "grantTypes">): boolean {
  return client.grantTypes.includes("client_credentials");
}
