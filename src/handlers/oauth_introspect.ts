/**
 * @module
 * `POST /oauth/introspect`: RFC 7662 token introspection for confidential clients.
 */
import type { ClientRegistry } from "../auth/clients/registry.ts";
import { singleParameter } from "../auth/parameters.ts";
import { AuthFailure, invalidClient } from "../auth/errors.ts";
import type { RefreshFamilies } from "../auth/tokens/refresh_families.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readParameters } from "../http/form.ts";
import { json } from "../http/json.ts";
import { authenticateClient } from "./_authenticate.ts";

/**
 * `POST /oauth/introspect` (RFC 7662): `active` and the token's claims. Only confidential
 * clients that authenticate (from `OAUTH_CLIENTS`) may ask, so it is no open token oracle, and
 * only about their own tokens unless listed in `OAUTH_INTROSPECTORS`.
 */
export function createOAuthIntrospectHandler(
  deps: { families: RefreshFamilies; clients: ClientRegistry; bodyLimits: BodyLimits },
): Handler {
  const { families, clients, bodyLimits } = deps;
  return async function introspect(req, ctx) {
    const params = readParameters(await readFormBody(req, bodyLimits));
    const client = await authenticateClient(req, ctx, { params, clients });
    if (!client.authenticated) throw invalidClient("Introspection needs client authentication");
    const token = singleParameter(params, "token");
    if (!token) throw new AuthFailure("invalid_request", "Missing token");
    const hint = singleParameter(params, "token_type_hint");
    const answer = await families.introspect(token, hint, client);
    return json(answer, { headers: { "cache-control": "no-store" } });
  };
}
