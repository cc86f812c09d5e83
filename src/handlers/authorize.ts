/**
 * @module
 * `GET /authorize` and `POST /authorize`: the authorization endpoint (RFC 6749 §3.1, OpenID
 * Connect Core §3.1.2) for the code flow with PKCE.
 */
import { readAuthorizationRequest, resolveClient } from "../auth/sign_in/authorization_requests.ts";
import { AuthFailure } from "../auth/errors.ts";
import { readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readCookie, SESSION_COOKIE } from "../http/cookies.ts";
import type { BrowserFlow } from "./browser_flow.ts";

/**
 * The authorization endpoint. An unknown client or an unregistered redirect URI is answered
 * with an error page and never redirected; every other error goes back to the client with
 * `error`, `state` and `iss`. A signed-in browser gets its code at once (single sign-on).
 */
export function createAuthorizeHandler(flow: BrowserFlow): Handler {
  const { clients, policy, browserSessions, bodyLimits } = flow.deps;
  return async function authorize(req, ctx) {
    const params = req.method === "POST"
      ? await readFormBody(req, bodyLimits)
      : new URL(req.url).searchParams;
    const resolved = await resolveClient(params, (clientId) => clients.find(clientId));
    ctx.client = resolved.client.clientId;
    let request;
    try {
      request = readAuthorizationRequest(params, resolved, policy);
    } catch (error) {
      if (error instanceof AuthFailure) return flow.redirectError(resolved.target, error);
      throw error;
    }
    const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
    const session = await browserSessions.current(cookie);
    if (session) ctx.user = session.username;
    return await flow.proceed(request, resolved.client, session, cookie);
  };
}
