/**
 * @module
 * The RFC 6749 §5.1 success answer of every endpoint that issues tokens.
 */
import type { GrantResult } from "../auth/authorization_codes.ts";
import type { TokenPair } from "../auth/sessions.ts";
import type { RequestContext } from "../http/context.ts";
import { json } from "../http/json.ts";

/**
 * The answer shared by `/login`, `/refresh` and `/oauth/token`; records the token's subject in
 * the request context for the access log.
 */
export function tokenResponse(pair: TokenPair, ctx: RequestContext): Response {
  ctx.user = pair.claims.sub;
  return json({
    access_token: pair.accessToken,
    token_type: "Bearer",
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
    scope: pair.scope,
  }, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
}

/**
 * The answer of the authorization code and client credentials grants: a refresh token and an
 * OpenID Connect `id_token` when the grant issued them.
 */
export function grantResponse(grant: GrantResult, ctx: RequestContext): Response {
  ctx.user = grant.subject;
  return json({
    access_token: grant.accessToken,
    token_type: "Bearer",
    expires_in: grant.expiresIn,
    ...(grant.refreshToken !== undefined && { refresh_token: grant.refreshToken }),
    scope: grant.scope,
    ...(grant.idToken !== undefined && { id_token: grant.idToken }),
  }, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
}
