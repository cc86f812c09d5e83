import { timingSafeEqual } from "node:crypto";
import { OAuthError } from "../http/errors.ts";

/** The client a request comes from. */
export interface ClientIdentity {
  clientId: string;
  /** True when the client proved a configured secret. */
  authenticated: boolean;
}

/** A client id: 1 to 128 printable ASCII characters without space. */
export const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * OAuth clients: confidential ones configured with a secret (`OAUTH_CLIENTS`), which must
 * authenticate, and public first-party clients that only name themselves.
 */
export class ClientRegistry {
  #secrets: Map<string, Uint8Array>;
  readonly defaultClientId: string;

  constructor(secrets: Record<string, string>, defaultClientId: string) {
    this.#secrets = new Map(
      Object.entries(secrets).map(([id, secret]) => [id, new TextEncoder().encode(secret)]),
    );
    this.defaultClientId = defaultClientId;
  }

  /**
   * Identifies the client from HTTP Basic (RFC 6749 §2.3.1) or `client_id`/`client_secret`
   * form fields. Wrong secrets, and confidential clients without one, are `invalid_client`.
   */
  async identify(req: Request, form: URLSearchParams): Promise<ClientIdentity> {
    const basic = parseBasic(req.headers.get("authorization"));
    const clientId = basic?.id ?? form.get("client_id") ?? undefined;
    const secret = basic?.secret ?? form.get("client_secret") ?? undefined;
    if (basic && form.has("client_secret")) {
      throw new OAuthError("invalid_request", "Use one client authentication method, not two");
    }
    if (clientId === undefined) {
      if (secret !== undefined) throw invalidClient("client_secret without client_id");
      return { clientId: this.defaultClientId, authenticated: false };
    }
    if (!CLIENT_ID.test(clientId)) throw new OAuthError("invalid_request", "Malformed client_id");
    const expected = this.#secrets.get(clientId);
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

/** An `invalid_client` error: 401 with a Basic challenge (RFC 6749 §5.2). */
export function invalidClient(description: string): OAuthError {
  return new OAuthError("invalid_client", description, {
    status: 401,
    headers: { "www-authenticate": 'Basic realm="oauth", charset="UTF-8"' },
  });
}

function parseBasic(header: string | null): { id: string; secret: string } | undefined {
  const match = header && /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.fromBase64(match[1]));
  } catch {
    throw invalidClient("Malformed Basic credentials");
  }
  const colon = decoded.indexOf(":");
  if (colon === -1) throw invalidClient("Malformed Basic credentials");
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replaceAll("+", " ")),
      secret: decodeURIComponent(decoded.slice(colon + 1).replaceAll("+", " ")),
    };
  } catch {
    throw invalidClient("Malformed Basic credentials");
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
