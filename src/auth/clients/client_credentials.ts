/**
 * @module
 * The client credentials grant (RFC 6749 §4.4): a confidential client registered for it gets an
 * access token for itself (`sub` is its id), without a refresh token.
 */
import { grantScope, OPENID_SCOPE, PROFILE_SCOPE, type ScopePolicy } from "../scopes.ts";
import { type GrantResult, requireGrant } from "./grants.ts";
import type { ClientIdentity } from "./registry.ts";

/** Scopes about a user, which mean nothing when the client acts for itself. */
const USER_SCOPES = [OPENID_SCOPE, PROFILE_SCOPE];

/** What the grant needs of the access tokens (the tokens part's `AccessTokens`). */
export interface AccessTokenIssuer {
  /** Signs an access token for `subject`. */
  issue(
    subject: string,
    claims: { scope: string; clientId: string; jkt?: string },
  ): Promise<{ token: string; expiresIn: number }>;
}

/**
 * Issues an access token to an authenticated confidential client registered for the grant;
 * `requested` must stay within its registered scope, less the user scopes, as every grant's
 * scope is decided ({@linkcode grantScope}); with `jkt`, the token is bound to that DPoP key.
 */
export async function clientCredentialsGrant(
  client: ClientIdentity,
  requested: string | undefined,
  { tokens, policy, jkt }: { tokens: AccessTokenIssuer; policy: ScopePolicy; jkt?: string },
): Promise<GrantResult> {
  requireGrant(client, "client_credentials");
  const scope = grantScope(requested, policy, {
    registered: client.registered!.scope,
    excluded: USER_SCOPES,
  });
  const issued = await tokens.issue(client.clientId, { scope, clientId: client.clientId, jkt });
  return {
    accessToken: issued.token,
    expiresIn: issued.expiresIn,
    scope,
  };
}
