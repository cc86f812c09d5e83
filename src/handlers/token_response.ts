import type { TokenPair } from "../auth/sessions.ts";
import { json } from "../http/json.ts";

/** The RFC 6749 §5.1 success answer, shared by `/login`, `/refresh` and `/oauth/token`. */
export function tokenResponse(pair: TokenPair): Response {
  return json({
    access_token: pair.accessToken,
    token_type: "Bearer",
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
    scope: pair.scope,
  }, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
}
