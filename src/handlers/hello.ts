import type { TokenService } from "../auth/tokens.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";

/** The scope a token needs for `GET /hello`. */
export const HELLO_SCOPE = "hello";

/** `GET /hello`: greets the token's subject, as the original tutorial's protected resource. */
export function createHelloHandler({ tokens }: { tokens: TokenService }): Handler {
  return async function hello(req, ctx) {
    const claims = await tokens.authenticate(req, HELLO_SCOPE);
    ctx.user = claims.sub;
    return json({ message: `Hello, ${claims.sub}! You're authenticated.` });
  };
}
