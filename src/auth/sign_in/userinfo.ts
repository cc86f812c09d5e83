/**
 * @module
 * The OpenID Connect UserInfo answer (Core §5.3) for a verified access token with scope
 * `openid`: `sub`, and `preferred_username` with scope `profile`.
 */
import type { AccountStore } from "../../store/accounts.ts";
import { invalidToken } from "../errors.ts";
import { PROFILE_SCOPE, scopeTokens } from "../scopes.ts";
import type { AccessClaims } from "../tokens/access_tokens.ts";

/** The claims about the token's user; `invalid_token` when the user no longer exists. */
export async function userInfo(
  claims: AccessClaims,
  store: AccountStore,
): Promise<Record<string, string>> {
  if (!await store.getUser(claims.sub)) throw invalidToken("The token's user no longer exists");
  return {
    sub: claims.sub,
    ...(scopeTokens(claims.scope ?? "").includes(PROFILE_SCOPE) && {
      preferred_username: claims.sub,
    }),
  };
}
