/**
 * @module
 * The OpenID Connect UserInfo answer (Core §5.3) for a verified access token with scope
 * `openid`: `sub`, and `preferred_username` with scope `profile`.
 */
import type { AccountStore } from "../../store/accounts.ts";
import { invalidToken } from "../errors.ts";
import { PROFILE_SCOPE, scopeTokens } from "../scopes.ts";
import type { AccessClaims } from "../tokens/access_tokens.ts";

/**
 * The claims about the token's user, found by the token's subject; `invalid_token` when that
 * account no longer exists (a later account of the same name is another account).
 */
export async function userInfo(
  claims: AccessClaims,
  store: AccountStore,
): Promise<Record<string, string>> {
  const user = await store.getUserBySubject(claims.sub);
  if (!user) throw invalidToken("The token's user no longer exists");
  return {
    sub: user.subject,
    ...(scopeTokens(claims.scope ?? "").includes(PROFILE_SCOPE) && {
      preferred_username: user.username,
    }),
  };
}
