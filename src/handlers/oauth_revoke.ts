/**
 * @module
 * `POST /oauth/revoke`: RFC 7009 token revocation.
 */
import type { ClientRegistry } from "../auth/clients/registry.ts";
import { singleParameter } from "../auth/parameters.ts";
import { AuthFailure } from "../auth/errors.ts";
import type { RefreshFamilies } from "../auth/tokens/refresh_families.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readParameters } from "../http/form.ts";
import { json } from "../http/json.ts";
import { authenticateClient, originOf } from "./_authenticate.ts";

/**
 * `POST /oauth/revoke` (RFC 7009): revokes a refresh token (and its family) or an access token
 * issued to the calling client, which authenticates when it is confidential; answers 200 also for
 * unknown tokens, so it tells nothing about them, and 400 `unauthorized_client` for a token of
 * another client (§2.1), which it leaves alone. Invalid access tokens count against the client
 * address's invalid-token budget, as at protected resources.
 */
export function createOAuthRevokeHandler(
  deps: { families: RefreshFamilies; clients: ClientRegistry; bodyLimits: BodyLimits },
): Handler {
  const { families, clients, bodyLimits } = deps;
  return async function revoke(req, ctx) {
    const params = readParameters(await readFormBody(req, bodyLimits));
    const client = await authenticateClient(req, ctx, { params, clients });
    const token = singleParameter(params, "token");
    if (!token) throw new AuthFailure("invalid_request", "Missing token");
    await families.revoke(token, singleParameter(params, "token_type_hint"), client, {
      presenter: { from: ctx.addressGroup },
      origin: originOf(ctx),
    });
    return json({}, { headers: { "cache-control": "no-store" } });
  };
}
