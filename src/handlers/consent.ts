/**
 * @module
 * `POST /consent`: the consent page's form.
 */
import { AuthFailure } from "../auth/errors.ts";
import { readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readCookie, SESSION_COOKIE } from "../http/cookies.ts";
import { type BrowserFlow, pendingFormOf } from "./browser_flow.ts";

/**
 * The consent form: 403 unless it carries the CSRF token of its pending request and comes from
 * the browser (and session) it was shown to. "Allow" is remembered for the user and client and
 * sends the code; anything else sends `access_denied`.
 */
export function createConsentHandler(flow: BrowserFlow): Handler {
  const { pending, browserSessions, consents, bodyLimits } = flow.deps;
  return async function consent(req, ctx) {
    const form = await readFormBody(req, bodyLimits);
    const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
    const pendingForm = pendingFormOf(form);
    const action = await pending.check(pendingForm, cookie);
    if (action.kind !== "consent") {
      throw new AuthFailure("csrf_mismatch", "This form does not belong to a consent");
    }
    const session = await browserSessions.current(cookie);
    if (session?.sid !== action.sid) {
      throw new AuthFailure(
        "expired_request",
        "Your sign-in has ended; go back to the application and sign in again",
      );
    }
    const { request } = action;
    ctx.user = session.username;
    ctx.client = (await flow.client(request.clientId)).clientId;
    await pending.finish(pendingForm.id!);
    if (form.get("decision") !== "allow") {
      return flow.redirectError(
        request,
        new AuthFailure("access_denied", "The user did not allow access"),
      );
    }
    await consents.grant(session.username, request.clientId, request.scope);
    return await flow.issueCode(request, session);
  };
}
