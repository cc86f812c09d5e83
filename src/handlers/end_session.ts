/**
 * @module
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `GET` and `POST /end-session`,
 * and `POST /sign-out`, the form of the question asked when no fresh ID token of the browser's own
 * session vouches for the request.
 */
import { formActionSource } from "../auth/clients/redirect_uris.ts";
import type { SignedOutTarget, SignOut, SignOutStep } from "../auth/sign_in/sign_out.ts";
import { readFormBody } from "../http/body.ts";
import type { Handler, RequestContext } from "../http/context.ts";
import { clearedSessionCookie } from "../http/cookies.ts";
import { readParameters } from "../http/form.ts";
import { htmlResponse } from "../http/html.ts";
import { seeOther } from "../http/see_other.ts";
import { messagePage, notSignedInPage, signOutPage } from "../pages/messages.ts";
import { originOf } from "./_authenticate.ts";
import { browserCookie, type BrowserPageDeps, noteStep, readPostedPage } from "./_browser_pages.ts";

/**
 * The end-session endpoint. With a fresh `id_token_hint` of the browser's own session, that
 * session ends at once, with its refresh families; any other signed-in browser is asked first,
 * and a browser without a session is only told so. A `post_logout_redirect_uri` must be
 * registered for the client (named by the hint or by `client_id`), else an error page is shown
 * and nothing is redirected.
 */
export function createEndSessionHandler(flow: SignOut, deps: BrowserPageDeps): Handler {
  return async function endSession(req, ctx) {
    const params = req.method === "POST"
      ? await readFormBody(req, deps.bodyLimits)
      : new URL(req.url).searchParams;
    const step = await flow.endSession(readParameters(params), browserCookie(req), originOf(ctx));
    return showSignOutStep(step, ctx);
  };
}

/** The sign-out question's form: ends the browser's session and its refresh families. */
export function createSignOutHandler(flow: SignOut, deps: BrowserPageDeps): Handler {
  return async function signOut(req, ctx) {
    const { posted, cookie } = await readPostedPage(req, deps.bodyLimits);
    return showSignOutStep(await flow.signOut(posted, cookie, originOf(ctx)), ctx);
  };
}

/** Shows a step of signing out; an error page is thrown to the edge, as every error. */
function showSignOutStep(step: SignOutStep, ctx: RequestContext): Response {
  noteStep(step, ctx);
  switch (step.kind) {
    case "confirm": {
      const { username, form, postLogoutRedirectUri } = step;
      return htmlResponse(
        signOutPage({ username, requestId: form.id, csrfToken: form.csrfToken }),
        {
          formTargets: postLogoutRedirectUri === undefined
            ? []
            : [formActionSource(postLogoutRedirectUri)],
        },
      );
    }
    case "signed_out": {
      const url = returnUrl(step.target);
      const res = url === undefined
        ? htmlResponse(messagePage("Signed out", "You have been signed out."))
        : seeOther(url);
      if (step.clearCookie) res.headers.append("set-cookie", clearedSessionCookie());
      return res;
    }
    case "not_signed_in": {
      const res = htmlResponse(notSignedInPage(returnUrl(step.target)));
      if (step.clearCookie) res.headers.append("set-cookie", clearedSessionCookie());
      return res;
    }
    case "error_page":
      throw step.error;
  }
}

/** The client's post-logout redirect URI with its `state`, if it named one. */
function returnUrl({ postLogoutRedirectUri, state }: SignedOutTarget): string | undefined {
  if (postLogoutRedirectUri === undefined) return undefined;
  const url = new URL(postLogoutRedirectUri);
  if (state !== undefined) url.searchParams.append("state", state);
  return url.href;
}
