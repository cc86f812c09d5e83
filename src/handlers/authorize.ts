/**
 * @module
 * `GET /authorize` and `POST /authorize`: the authorization endpoint (RFC 6749 §3.1, OpenID
 * Connect Core §3.1.2) for the code flow with PKCE.
 */
import type { SignInFlow } from "../auth/sign_in/flow.ts";
import { readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readParameters } from "../http/form.ts";
import { sourceOf } from "./_authenticate.ts";
import { browserCookie, type BrowserPageDeps, showStep } from "./_browser_pages.ts";

/**
 * The authorization endpoint: the request's parameters, from the query or a form, go to the
 * sign-in flow with the client's address group (which caps its unfinished sign-ins), and the page
 * or redirect it decides on is shown. A pushed request (RFC 9126) comes as its `request_uri`.
 */
export function createAuthorizeHandler(flow: SignInFlow, deps: BrowserPageDeps): Handler {
  return async function authorize(req, ctx) {
    const params = req.method === "POST"
      ? await readFormBody(req, deps.bodyLimits)
      : new URL(req.url).searchParams;
    const step = await flow.authorize(readParameters(params), browserCookie(req), sourceOf(ctx));
    return showStep(step, ctx, deps);
  };
}
