/**
 * @module
 * OAuth clients: which exist, which must authenticate, which may introspect every token, and
 * checking a presented secret in constant time. Reading the credentials off a request is the
 * HTTP layer's job.
 */
import { timingSafeEqual } from "node:crypto";
import { AuthFailure, invalidClient } from "./errors.ts";

/** The client a request comes from. */
export interface ClientIdentity {
  clientId: string;
  /** True when the client proved a configured secret. */
  authenticated: boolean;
}

/**
 * A secret as presented: one string, or the two readings of an HTTP Basic secret (form-decoded
 * as RFC 6749 §2.3.1 asks, and as sent); never more than two.
 */
export type PresentedSecret = string | readonly [string] | readonly [string, string];

/** A client id: 1 to 128 printable ASCII characters without space. */
export const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * OAuth clients: confidential ones configured with a secret (`OAUTH_CLIENTS`), which must
 * authenticate, and public first-party clients that only name themselves.
 */
export class ClientRegistry {
  #secrets: Map<string, Uint8Array>;
  #introspectors: ReadonlySet<string>;
  readonly defaultClientId: string;

  /**
   * `secrets` are the confidential clients; `defaultClientId`, the client of requests that name
   * none, is public and can never be one of them. `introspectors` may introspect every token.
   */
  constructor(
    secrets: Record<string, string>,
    defaultClientId: string,
    options: { introspectors?: readonly string[] } = {},
  ) {
    if (Object.hasOwn(secrets, defaultClientId)) {
      throw new Error(`The default client "${defaultClientId}" cannot be a confidential client`);
    }
    this.#secrets = new Map(
      Object.entries(secrets).map(([id, secret]) => [id, new TextEncoder().encode(secret)]),
    );
    this.#introspectors = new Set(options.introspectors ?? []);
    this.defaultClientId = defaultClientId;
  }

  /** Whether `clientId` is a confidential client, which must authenticate to use its tokens. */
  isConfidential(clientId: string): boolean {
    return this.#secrets.has(clientId);
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
    const expected = this.#secrets.get(clientId);
    if (secret === undefined) {
      if (expected) throw invalidClient(`Client "${clientId}" must authenticate`);
      return { clientId, authenticated: false };
    }
    if (!expected || !await secretMatches(secret, expected)) {
      throw invalidClient("Client authentication failed");
    }
    return { clientId, authenticated: true };
  }
}

/**
 * Whether any reading of the presented secret is the expected one. Every reading is compared,
 * in constant time, so the time taken does not tell which one matched.
 */
async function secretMatches(secret: PresentedSecret, expected: Uint8Array): Promise<boolean> {
  let match = false;
  for (const reading of typeof secret === "string" ? [secret] : secret) {
    match = await secretsEqual(reading, expected) || match;
  }
  return match;
}

/** Compares in constant time, also for secrets of different lengths (via their digests). */
async function secretsEqual(given: string, expected: Uint8Array): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(given)),
    crypto.subtle.digest("SHA-256", expected as Uint8Array<ArrayBuffer>),
  ]);
  return timingSafeEqual(new Uint8Array(a), new Uint8Array(b));
}
