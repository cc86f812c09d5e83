/**
 * @module
 * OAuth clients: which exist (configured in `OAUTH_CLIENTS`, or registered in the store with
 * `clients add`), which must authenticate, which may introspect every token, and checking a
 * presented secret in constant time. Reading the credentials off a request is the HTTP layer's
 * job.
 */
import { timingSafeEqual } from "node:crypto";
import type { UnixSeconds } from "../../clock.ts";
import type { ClientRecord, ClientStore } from "../../store/clients.ts";
import { AuthFailure, invalidClient } from "../errors.ts";
import { digestsEqual, sha256, sha256Hex } from "../secrets.ts";

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
  /**
   * When this registration was made: what it was given is bound to it, so that nothing of a
   * removed client passes for the same id registered again.
   */
  registeredAt: UnixSeconds;
  /** Its authorization requests must be pushed first (RFC 9126): plain ones are refused. */
  requirePar?: boolean;
  /** Whether every token request must carry a DPoP proof (RFC 9449), so tokens are bound. */
  dpopBound?: boolean;
}

/** The client a request comes from. */
export interface ClientIdentity {
  clientId: string;
  /** True when the client proved a configured or registered secret. */
  authenticated: boolean;
  /** The registration, for a client registered in the store. */
  registered?: RegisteredClient;
}

/**
 * A secret as presented: one string, or the two readings of an HTTP Basic secret (form-decoded
 * as RFC 6749 §2.3.1 asks, and as sent); never more than two.
 */
export type PresentedSecret = string | readonly [string] | readonly [string, string];

/** A client id: 1 to 128 printable ASCII characters without space. */
export const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * OAuth clients: confidential ones configured with a secret (`OAUTH_CLIENTS`), clients registered
 * in the store (confidential ones keep only a SHA-256 of their secret), and public first-party
 * clients that only name themselves. A configured client shadows a registered one of that id.
 */
export class ClientRegistry {
  /** The configured confidential clients' secrets, as SHA-256. */
  #secretDigests: Map<string, Uint8Array>;
  #introspectors: ReadonlySet<string>;
  #store?: ClientStore;
  readonly defaultClientId: string;

  /**
   * `secrets` are the configured confidential clients; `defaultClientId`, the client of requests
   * that name none, is public and can never be one of them. `introspectors` may introspect every
   * token; `store` holds the registered clients.
   */
  constructor(
    secrets: Record<string, string>,
    defaultClientId: string,
    options: { introspectors?: readonly string[]; store?: ClientStore } = {},
  ) {
    if (Object.hasOwn(secrets, defaultClientId)) {
      throw new Error(`The default client "${defaultClientId}" cannot be a confidential client`);
    }
    this.#secretDigests = new Map(
      Object.entries(secrets).map(([id, secret]) => [id, sha256(secret)]),
    );
    this.#introspectors = new Set(options.introspectors ?? []);
    this.defaultClientId = defaultClientId;
    this.#store = options.store;
  }

  /** The registered client of that id; undefined for unknown, malformed or configured ids. */
  async find(clientId: string): Promise<RegisteredClient | undefined> {
    if (!this.#store || !CLIENT_ID.test(clientId) || this.#secretDigests.has(clientId)) {
      return undefined;
    }
    const record = await this.#store.getClient(clientId);
    return record && registeredClient(record);
  }

  /** The registered client of that id; `unknown_client` when there is none (any longer). */
  async require(clientId: string): Promise<RegisteredClient> {
    const client = await this.find(clientId);
    if (!client) throw new AuthFailure("unknown_client", `Unknown client "${clientId}"`);
    return client;
  }

  /**
   * Whether `clientId` is a confidential client, configured or registered, which must
   * authenticate to use its tokens.
   */
  async isConfidential(clientId: string): Promise<boolean> {
    if (this.#secretDigests.has(clientId)) return true;
    return (await this.find(clientId))?.confidential ?? false;
  }

  /** Whether `clientId` is a confidential client configured in `OAUTH_CLIENTS`. */
  isConfigured(clientId: string): boolean {
    return this.#secretDigests.has(clientId);
  }

  /** Whether the client may introspect tokens issued to other clients (`OAUTH_INTROSPECTORS`). */
  mayIntrospectAll(client: ClientIdentity): boolean {
    return client.authenticated && this.#introspectors.has(client.clientId);
  }

  /**
   * Identifies the client from the credentials it presented. Wrong secrets, and confidential
   * clients without one, are `invalid_client`; no client id at all is the default client.
   */
  async identify(
    credentials: { clientId?: string; secret?: PresentedSecret },
  ): Promise<ClientIdentity> {
    const { clientId, secret } = credentials;
    if (clientId === undefined) {
      if (secret !== undefined) throw invalidClient("client_secret without client_id");
      return { clientId: this.defaultClientId, authenticated: false };
    }
    if (!CLIENT_ID.test(clientId)) throw new AuthFailure("invalid_request", "Malformed client_id");
    const expected = this.#secretDigests.get(clientId);
    const record = expected ? undefined : await this.#store?.getClient(clientId);
    if (record) return await identifyRegistered(record, secret);
    if (secret === undefined) {
      if (expected) throw invalidClient(`Client "${clientId}" must authenticate`);
      return { clientId, authenticated: false };
    }
    if (!expected || !await anyReadingMatches(secret, (given) => secretsEqual(given, expected))) {
      throw invalidClient("Client authentication failed");
    }
    return { clientId, authenticated: true };
  }
}

/**
 * Whether any reading of the presented secret passes `matches`. Every reading is compared, in
 * constant time, so the time taken does not tell which one matched.
 */
async function anyReadingMatches(
  secret: PresentedSecret,
  matches: (reading: string) => Promise<boolean>,
): Promise<boolean> {
  let match = false;
  for (const reading of typeof secret === "string" ? [secret] : secret) {
    match = await matches(reading) || match;
  }
  return match;
}

/**
 * Compares a secret with a configured one's digest in constant time, also for secrets of
 * different lengths (via their digests).
 */
// deno-lint-ignore require-await
async function secretsEqual(given: string, expectedDigest: Uint8Array): Promise<boolean> {
  return timingSafeEqual(sha256(given), expectedDigest);
}

/**
 * A registered client, from the credentials it presented: a public one must present no secret, a
 * confidential one the secret whose SHA-256 is stored (either reading of a Basic secret).
 */
async function identifyRegistered(
  record: ClientRecord,
  secret: PresentedSecret | undefined,
): Promise<ClientIdentity> {
  const registered = registeredClient(record);
  if (record.secretHash === null) {
    if (secret !== undefined) throw invalidClient("Client authentication failed");
    return { clientId: record.clientId, authenticated: false, registered };
  }
  if (secret === undefined) throw invalidClient(`Client "${record.clientId}" must authenticate`);
  const { secretHash } = record;
  const matches = async (given: string) => digestsEqual(await sha256Hex(given), secretHash);
  if (!await anyReadingMatches(secret, matches)) {
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
    registeredAt: record.createdAt,
    requirePar: record.requirePar,
    dpopBound: record.dpopBound ?? false,
  };
}
