/**
 * @module
 * The clients part of the store's contract: the OAuth clients registered with `clients add`,
 * shared by every instance like users, and their removal, which ends everything a client was
 * given in one transaction. It declares records and operations only; the backends implement
 * them.
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
  /** Its authorization requests must be pushed first (RFC 9126): plain ones are refused. */
  requirePar: boolean;
  /** Whether every token request of the client must carry a DPoP proof (absent: false). */
  dpopBound?: boolean;
}

/** What removing a client ends, and when. */
export interface ClientRemoval {
  /** The time of the removal: the client's refresh families are revoked at it. */
  now: UnixSeconds;
  /** The client's access tokens issued at or before this time are refused from now on. */
  tokensIssuedUntil: UnixSeconds;
  /** Until when any such access token could still be accepted: the refusal is kept as long. */
  tokensAcceptedUntil: UnixSeconds;
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
  /**
   * Removes a client and, in the same transaction, everything it was given: its refresh families
   * are revoked (with a `sid` revocation for each whose access tokens may still be accepted), its
   * authorization codes and the consents given to it are deleted, and a `client` revocation
   * refuses its access tokens issued until `removal.tokensIssuedUntil`, so every instance learns
   * of the removal from the revocations it polls. False, changing nothing, when there is no
   * such client.
   */
  removeClient(clientId: string, removal: ClientRemoval): Promise<boolean>;
  /** Replaces a confidential client's secret hash; false when there is no such client. */
  setClientSecretHash(clientId: string, secretHash: string): Promise<boolean>;
}

/**
 * Whether the client may get tokens for itself (the client credentials grant), whose `sub` is
 * its id: such an id may never be a user's name or subject. This is only the rule that keeps
 * client ids and usernames apart, applied inside the backends' transactions; whether a client may
 * use a grant is decided in the domain (`auth/clients/grants.ts`), never here.
 */
export function actsForItself(client: Pick<ClientRecord, "grantTypes">): boolean {
  return client.grantTypes.includes("client_credentials");
}
