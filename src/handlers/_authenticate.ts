/**
 * @module
 * Who is calling: the Bearer access token of a protected resource, or the OAuth client of a
 * token, revocation or introspection request. Each records what it learnt in the request
 * context for the access log, so no handler has to.
 */
import type { ClientIdentity, ClientRegistry } from "../auth/clients/registry.ts";
import { AuthFailure, invalidClient, invalidToken } from "../auth/errors.ts";
import type { Origin } from "../auth/events.ts";
import { hasParameter, type RequestParameters, singleParameter } from "../auth/parameters.ts";
import { requireScope } from "../auth/scopes.ts";
import { type AccessClaims, type AccessTokens, userNameOf } from "../auth/tokens/access_tokens.ts";
import { parseAuthorization } from "../http/authorization.ts";
import type { RequestContext } from "../http/context.ts";

/**
 * Verifies the request's `Authorization: Bearer` access token and, when `scope` is given, that
 * the token grants it (else `insufficient_scope`, RFC 6750 §3.1). Invalid tokens are charged to
 * the client address; a missing header is not an invalid token.
 */
export async function authenticateBearer(
  req: Request,
  ctx: RequestContext,
  { tokens, scope }: { tokens: AccessTokens; scope?: string },
): Promise<AccessClaims> {
  const authorization = parseAuthorization(req.headers.get("authorization"));
  if (authorization.scheme === "none") {
    throw new AuthFailure("missing_token", "Missing Authorization Header");
  }
  if (authorization.scheme !== "bearer") {
    throw invalidToken('Authorization header must be "Bearer <token>"');
  }
  const claims = await tokens.verify(authorization.token, { from: ctx.addressGroup });
  ctx.user = userNameOf(claims);
  ctx.client = claims.client_id;
  if (scope !== undefined) requireScope(claims.scope, scope);
  return claims;
}

/**
 * Identifies the OAuth client from HTTP Basic (RFC 6749 §2.3.1) or the `client_id` and
 * `client_secret` form parameters, never both.
 */
export async function authenticateClient(
  req: Request,
  ctx: RequestContext,
  { params, clients }: { params: RequestParameters; clients: ClientRegistry },
): Promise<ClientIdentity> {
  const authorization = parseAuthorization(req.headers.get("authorization"));
  if (authorization.scheme === "malformed_basic") {
    throw invalidClient("Malformed Basic credentials");
  }
  const basic = authorization.scheme === "basic" ? authorization : undefined;
  const formId = singleParameter(params, "client_id");
  const formSecret = singleParameter(params, "client_secret");
  if (basic && hasParameter(params, "client_secret")) {
    throw new AuthFailure("invalid_request", "Use one client authentication method, not two");
  }
  const client = await clients.identify({
    clientId: basic?.id ?? formId,
    secret: basic?.secrets ?? formSecret,
  });
  ctx.client = client.clientId;
  return client;
}

/** Where a request comes from, as the audit trail records it. */
export function originOf(ctx: RequestContext): Origin {
  return { requestId: ctx.requestId, address: ctx.remoteAddress };
}
