/**
 * @module
 * `GET /hello`: the original tutorial's protected resource.
 */
import { HELLO_SCOPE } from "../auth/scopes.ts";
import { type AccessClaims, type AccessTokens, userNameOf } from "../auth/tokens/access_tokens.ts";
import type { DpopProofs } from "../auth/tokens/dpop_proofs.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";
import { authenticateBearer } from "./_authenticate.ts";

/**
 * `GET /hello`: greets the token's user by name, from the token alone; a client's token for
 * itself is greeted as the client it is, never as a user. The token needs the `hello` scope;
 * a DPoP-bound one comes with its proof.
 */
export function createHelloHandler(
  { tokens, dpop }: { tokens: AccessTokens; dpop?: DpopProofs },
): Handler {
  return function hello(req, ctx) {
    // A token seen before is answered in this turn, without a promise: the commonest request.
    const claims = authenticateBearer(req, ctx, { tokens, scope: HELLO_SCOPE, dpop });
    return claims instanceof Promise ? claims.then(greeting) : greeting(claims);
  };
}

function greeting(claims: AccessClaims): Response {
  const name = userNameOf(claims) ?? `client ${claims.client_id ?? claims.sub}`;
  return json({ message: `Hello, ${name}! You're authenticated.` });
}
