/**
 * @module
 * `GET` and `POST /userinfo`: the OpenID Connect UserInfo endpoint (Core §5.3).
 */
import { OPENID_SCOPE } from "../auth/scopes.ts";
import type { AccessClaims, AccessTokens } from "../auth/tokens/access_tokens.ts";
import type { DpopProofs } from "../auth/tokens/dpop_proofs.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";
import { authenticateBearer } from "./_authenticate.ts";

/**
 * The UserInfo endpoint: a Bearer (or DPoP-bound) access token with scope `openid` gets `sub`, and
 * `preferred_username` with scope `profile`; other tokens get RFC 6750 errors.
 */
export function createUserInfoHandler(
  { tokens, userInfo, dpop }: {
    tokens: AccessTokens;
    /** DPoP proof checks, for DPoP-bound tokens. */
    dpop?: DpopProofs;
    userInfo: (claims: AccessClaims) => Promise<Record<string, string>>;
  },
): Handler {
  return async function userinfo(req, ctx) {
    const claims = await authenticateBearer(req, ctx, { tokens, scope: OPENID_SCOPE, dpop });
    await req.body?.cancel();
    return json(await userInfo(claims), { headers: { "cache-control": "no-store" } });
  };
}
