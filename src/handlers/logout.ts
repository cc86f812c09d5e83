import type { SessionService } from "../auth/sessions.ts";
import type { TokenService } from "../auth/tokens.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";

/**
 * `POST /logout` with a Bearer access token: revokes that token and its whole refresh family;
 * afterwards the token answers 401 "Token has been revoked".
 */
export function createLogoutHandler(
  { tokens, sessions }: { tokens: TokenService; sessions: SessionService },
): Handler {
  return async function logout(req, ctx) {
    const claims = await tokens.authenticate(req);
    await req.body?.cancel();
    ctx.user = claims.sub;
    await sessions.logout(claims);
    return json({ msg: "Successfully logged out" }, { headers: { "cache-control": "no-store" } });
  };
}
