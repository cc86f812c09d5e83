/**
 * @module
 * `POST /logout`: ends the refresh family of the access token presented.
 */
import type { RefreshFamilies } from "../auth/tokens/refresh_families.ts";
import type { AccessTokens } from "../auth/tokens/access_tokens.ts";
import type { DpopProofs } from "../auth/tokens/dpop_proofs.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";
import { authenticateBearer, originOf } from "./_authenticate.ts";

/**
 * `POST /logout` with a Bearer access token (or a DPoP-bound one with its proof): revokes that
 * token and its whole refresh family; afterwards the token answers 401 "Token has been revoked".
 */
export function createLogoutHandler(
  { tokens, families, dpop }: {
    tokens: AccessTokens;
    families: RefreshFamilies;
    dpop?: DpopProofs;
  },
): Handler {
  return async function logout(req, ctx) {
    const claims = await authenticateBearer(req, ctx, { tokens, dpop });
    await req.body?.cancel();
    await families.logout(claims, originOf(ctx));
    return json({ msg: "Successfully logged out" }, { headers: { "cache-control": "no-store" } });
  };
}
