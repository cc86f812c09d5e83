/**
 * @module
 * Who is calling: the Bearer or DPoP-bound access token of a protected resource, or the OAuth
 * client of a token, revocation or introspection request. Each records what it learnt in the
 * request context for the access log, so no handler has to.
 */
import type { ClientIdentity, ClientRegistry } from "../auth/clients/registry.ts";
import { AuthFailure, invalidClient, invalidToken } from "../auth/errors.ts";
import type { Origin } from "../auth/events.ts";
import { hasParameter, type RequestParameters, singleParameter } from "../auth/parameters.ts";
import { requireScope } from "../auth/scopes.ts";
import { type AccessClaims, type AccessTokens, userNameOf } from "../auth/tokens/access_tokens.ts";
import { atResource, type DpopProofs } from "../auth/tokens/dpop_proofs.ts";
import { parseAuthorization } from "../http/authorization.ts";
import type { RequestContext } from "../http/context.ts";
import { pathnameOf } from "../http/request_url.ts";

/**
 * Verifies the request's `Authorization: Bearer` access token, or its `Authorization: DPoP` one
 * with the `DPoP` proof of the key it is bound to (RFC 9449 §7), and, when `scope` is given, that
 * the token grants it (else `insufficient_scope`, RFC 6750 §3.1). A DPoP-bound token presented as
 * Bearer is refused. Invalid tokens are charged to the client address; a missing header is not an
 * invalid token. A Bearer token verified before is answered without waiting (the claims
 * themselves, not a promise), which spares the request a turn of the event loop; a refusal is
 * always a rejected promise.
 */
export function authenticateBearer(
  req: Request,
  ctx: RequestContext,
  options: { tokens: AccessTokens; scope?: string; dpop?: DpopProofs },
): AccessClaims | Promise<AccessClaims> {
  try {
    const authorization = parseAuthorization(req.headers.get("authorization"));
    if (authorization.scheme === "bearer") {
      const remembered = options.tokens.verifyRemembered(authorization.token);
      if (remembered) return accepted(remembered, "bearer", ctx, options.scope);
    }
    return verified(req, ctx, options, authorization);
  } catch (error) {
    return Promise.reject(error);
  }
}

async function verified(
  req: Request,
  ctx: RequestContext,
  { tokens, scope, dpop }: { tokens: AccessTokens; scope?: string; dpop?: DpopProofs },
  authorization: ReturnType<typeof parseAuthorization>,
): Promise<AccessClaims> {
  if (authorization.scheme === "none") {
    throw new AuthFailure("missing_token", "Missing Authorization Header");
  }
  let claims: AccessClaims;
  if (authorization.scheme === "bearer") {
    claims = await tokens.verify(authorization.token, { from: ctx.addressGroup });
  } else if (authorization.scheme === "dpop" && dpop) {
    claims = await dpopBound(req, ctx, { tokens, dpop, token: authorization.token })
      .catch((error) => {
        throw atResource(error);
      });
  } else {
    throw invalidToken('Authorization header must be "Bearer <token>"');
  }
  return accepted(claims, authorization.scheme, ctx, scope);
}

/**
 * What follows a valid token's check: a DPoP-bound one must not come as Bearer, the access log
 * learns who called, and the token must grant `scope`.
 */
function accepted(
  claims: AccessClaims,
  scheme: "bearer" | "dpop",
  ctx: RequestContext,
  scope: string | undefined,
): AccessClaims {
  if (scheme === "bearer" && claims.cnf !== undefined) {
    throw atResource(
      invalidToken('A DPoP-bound token must be presented as "DPoP <token>" with a proof', "dpop"),
    );
  }
  ctx.user = userNameOf(claims);
  ctx.client = claims.client_id;
  if (scope !== undefined) {
    try {
      requireScope(claims.scope, scope);
    } catch (error) {
      throw scheme === "dpop" ? atResource(error) : error;
    }
  }
  return claims;
}

/** Verifies a DPoP-bound access token and the proof of its key that goes with it. */
async function dpopBound(
  req: Request,
  ctx: RequestContext,
  { tokens, dpop, token }: { tokens: AccessTokens; dpop: DpopProofs; token: string },
): Promise<AccessClaims> {
  const claims = await tokens.verify(token, { from: ctx.addressGroup });
  // Before the proof, whose check costs a signature and a store write.
  if (claims.cnf === undefined) throw invalidToken("Token is not bound to a DPoP key", "dpop");
  const proof = await requestProof(req, ctx, dpop, token);
  if (!proof) throw dpop.refuse("missing", "Missing DPoP proof", originOf(ctx));
  if (claims.cnf.jkt !== proof.jkt) {
    throw dpop.refuse("key_mismatch", "DPoP proof key is not the token's", originOf(ctx));
  }
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

/**
 * The check of the request's `DPoP` proof for its method and URL (and `accessToken`, where the
 * proof goes with one): its key's thumbprint, or undefined without a proof.
 */
export function requestProof(
  req: Request,
  ctx: RequestContext,
  dpop: DpopProofs,
  accessToken?: string,
): ReturnType<DpopProofs["verify"]> {
  return dpop.verify(req.headers.get("dpop"), {
    method: req.method,
    path: pathnameOf(req.url),
    accessToken,
    origin: originOf(ctx),
  });
}

/**
 * Where a check of a code or a password comes from: the client's address group, which the
 * throttle counts against, and the request's origin for the audit trail.
 */
export function sourceOf(ctx: RequestContext): { address: string; origin: Origin } {
  return { address: ctx.addressGroup, origin: originOf(ctx) };
}
