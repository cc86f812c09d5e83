/**
 * @module
 * The RFC 6749 §5.1 success answer of every endpoint that issues tokens.
 */
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
