/**
 * @module
 * `GET /hello`: the original tutorial's protected resource.
 */
import { HELLO_SCOPE } from "../auth/scopes.ts";
import type { AccessTokens } from "../auth/tokens/access_tokens.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";
import { authenticateBearer } from "./_authenticate.ts";

/** `GET /hello`: greets the token's subject; the token needs the `hello` scope. */
export function createHelloHandler({ tokens }: { tokens: AccessTokens }): Handler {
  return async function hello(req, ctx) {
    const claims = await authenticateBearer(req, ctx, { tokens, scope: HELLO_SCOPE });
    return json({ message: `Hello, ${claims.sub}! You're authenticated.` });
  };
}
