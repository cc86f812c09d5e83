/**
 * @module
 * Grants (RFC 6749 §1.3): the grant types a client may be registered with, the one check of
 * whether a client may use one (at the authorization endpoint and the token endpoint alike),
 * and what a grant issues. It issues nothing itself.
 */
import { AuthFailure } from "../errors.ts";
import type { ClientIdentity } from "./registry.ts";

/** The grant types a registered client may be given. */
export const GRANT_TYPES = [
  "authorization_code",
  "refresh_token",
  "client_credentials",
  "password",
  "urn:ietf:params:oauth:grant-type:device_code",
] as const;

/** The device authorization grant (RFC 8628 §3.4). */
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** One grant type. */
export type GrantType = typeof GRANT_TYPES[number];

/** Grants of a client registered without `--grant`. */
export const DEFAULT_GRANT_TYPES: readonly GrantType[] = ["authorization_code", "refresh_token"];

/**
 * Grants of the clients that are not registered in the store (configured in `OAUTH_CLIENTS`,
 * and the default client of `/login`): the password grant and refreshing what it issued.
 */
const UNREGISTERED_GRANTS: readonly GrantType[] = ["password", "refresh_token"];

/** How a refusal names each grant. */
const GRANT_NAMES: Record<GrantType, string> = {
  authorization_code: "the authorization code grant",
  refresh_token: "the refresh_token grant",
  client_credentials: "the client credentials grant",
  password: "the password grant",
  [DEVICE_CODE_GRANT]: "the device authorization grant",
};

/** What a grant at the token endpoint issues. */
export interface GrantResult {
  accessToken: string;
  expiresIn: number;
  scope: string;
  /** The user's name, for the access log; none when the client acts for itself. */
  username?: string;
  refreshToken?: string;
  idToken?: string;
}

/**
 * Throws `unauthorized_client` unless the client may use `grant` (see
 * {@linkcode mayUseGrant}); `use` names what is refused, by default the grant.
 *
 * @example
 * ```ts
 * requireGrant(client, "password"); // `Client "spa" may not use the password grant`
 * ```
 */
export function requireGrant(
  client: ClientIdentity,
  grant: GrantType,
  use: string = GRANT_NAMES[grant],
): void {
  if (!mayUseGrant(client, grant)) {
    throw new AuthFailure("unauthorized_client", `Client "${client.clientId}" may not use ${use}`);
  }
}

/**
 * Whether the client may use `grant`: a registered client the grants it was registered with, and
 * `client_credentials` only when it is confidential and proved its secret; any other client only
 * the password and refresh token grants.
 */
export function mayUseGrant(
  { registered, authenticated }: ClientIdentity,
  grant: GrantType,
): boolean {
  if (!registered) return UNREGISTERED_GRANTS.includes(grant);
  if (grant === "client_credentials" && !(registered.confidential && authenticated)) return false;
  return registered.grantTypes.includes(grant);
}
