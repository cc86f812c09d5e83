/**
 * @module
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `GET` and `POST /end-session`,
 * and `POST /sign-out`, the form of the question asked when no ID token vouches for the request.
 */
import { AuthFailure } from "../auth/errors.ts";
import { formActionSource } from "../auth/clients/redirect_uris.ts";
import { isSecretShaped } from "../auth/secrets.ts";
import { readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { clearedSessionCookie, readCookie, SESSION_COOKIE } from "../http/cookies.ts";
import { htmlResponse } from "../http/html.ts";
import { messagePage, signOutPage } from "../pages/messages.ts";
import { originOf } from "./_authenticate.ts";
import { type BrowserFlow, pendingFormOf, seeOther } from "./browser_flow.ts";

/** Where to send the browser after signing out, with the client's `state`. */
interface SignedOutTarget {
  postLogoutRedirectUri?: string;
  state?: string;
}

/**
 * The end-session endpoint. With a valid `id_token_hint` the session it names ends at once,
 * with its refresh-token families; without one, a signed-in browser is asked first. A
 * `post_logout_redirect_uri` must be registered for the client (named by the hint or by
 * `client_id`), else an error page is shown and nothing is redirected.
 */
export function createEndSessionHandler(flow: BrowserFlow): Handler {
  const { idTokens, browserSessions, pending, bodyLimits } = flow.deps;
  return async function endSession(req, ctx) {
    const params = req.method === "POST"
      ? await readFormBody(req, bodyLimits)
      : new URL(req.url).searchParams;
    const param = (name: string) => {
      const values = params.getAll(name);
      if (values.length > 1) {
        throw new AuthFailure("invalid_request", `Parameter "${name}" is repeated`);
      }
      return values[0] || undefined;
    };
    const hintToken = param("id_token_hint");
    const hint = hintToken === undefined ? undefined : await idTokens.verifyHint(hintToken);
    const clientParam = param("client_id");
    if (hint && clientParam !== undefined && clientParam !== hint.clientId) {
      throw new AuthFailure(
        "invalid_id_token_hint",
        "The id_token_hint was issued to another client",
      );
    }
    const clientId = hint?.clientId ?? clientParam;
    const client = clientId === undefined ? undefined : await flow.client(clientId);
    if (client) ctx.client = client.clientId;
    const postLogoutRedirectUri = param("post_logout_redirect_uri");
    if (
      postLogoutRedirectUri !== undefined &&
      !client?.postLogoutRedirectUris.includes(postLogoutRedirectUri)
    ) {
      throw new AuthFailure(
        "unregistered_redirect_uri",
        "The post_logout_redirect_uri is not registered for this client",
      );
    }
    const state = param("state");
    const target = { postLogoutRedirectUri, ...(state !== undefined && { state }) };
    const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
    const current = await browserSessions.current(cookie);
    if (current) ctx.user = current.username;
    if (hint) {
      if (hint.sid !== undefined) {
        await browserSessions.end(hint.sid, {
          subject: hint.sub,
          client: hint.clientId,
          origin: originOf(ctx),
        });
      }
      return signedOut(target, !current || current.sid === hint.sid);
    }
    if (!current) return signedOut(target, isSecretShaped(cookie));
    const form = await pending.start(
      { kind: "sign_out", sid: current.sid, username: current.username, ...target },
      cookie!,
    );
    return htmlResponse(
      signOutPage({ username: current.username, requestId: form.id, csrfToken: form.csrfToken }),
      {
        formTargets: postLogoutRedirectUri === undefined
          ? []
          : [formActionSource(postLogoutRedirectUri)],
      },
    );
  };
}

/** The sign-out question's form: ends the browser's session and its refresh-token families. */
export function createSignOutHandler(flow: BrowserFlow): Handler {
  const { browserSessions, pending, bodyLimits } = flow.deps;
  return async function signOut(req, ctx) {
    const form = await readFormBody(req, bodyLimits);
    const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
    const pendingForm = pendingFormOf(form);
    const action = await pending.check(pendingForm, cookie);
    if (action.kind !== "sign_out") {
      throw new AuthFailure("csrf_mismatch", "This form does not belong to a sign-out");
    }
    await pending.finish(pendingForm.id!);
    ctx.user = action.username;
    await browserSessions.end(action.sid, { subject: action.username, origin: originOf(ctx) });
    return signedOut(action, true);
  };
}

function signedOut(target: SignedOutTarget, clearCookie: boolean): Response {
  let res: Response;
  if (target.postLogoutRedirectUri === undefined) {
    res = htmlResponse(messagePage("Signed out", "You have been signed out."));
  } else {
    const url = new URL(target.postLogoutRedirectUri);
    if (target.state !== undefined) url.searchParams.append("state", target.state);
    res = seeOther(url.href);
  }
  if (clearCookie) res.headers.append("set-cookie", clearedSessionCookie());
  return res;
}
