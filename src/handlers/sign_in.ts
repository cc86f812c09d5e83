/**
 * @module
 * `POST /sign-in`: the sign-in page's form. Credentials are checked exactly as `/login` checks
 * them (throttling, the client's address and the browser's device token included); success
 * starts a browser session under a new cookie and renews the device cookie.
 */
import { AuthFailure } from "../auth/errors.ts";
import type { LoginSuccess, PasswordLogin } from "../auth/accounts/password_login.ts";
import { readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readCookie, SESSION_COOKIE, sessionCookie } from "../http/cookies.ts";
import { originOf } from "./_authenticate.ts";
import { deviceCookie, presentedDeviceToken } from "./_token_response.ts";
import { type BrowserFlow, pendingFormOf } from "./browser_flow.ts";

/** What the sign-in page says after wrong credentials, whichever part was wrong. */
export const SIGN_IN_FAILED = "Invalid username or password";

/**
 * The sign-in form: 403 unless it carries the CSRF token of its pending request and comes from
 * the browser that request was shown to. Wrong credentials show the page again with one
 * generic message and the username kept; success continues to consent or to the client.
 */
export function createSignInHandler(
  flow: BrowserFlow,
  { passwordLogin }: { passwordLogin: PasswordLogin },
): Handler {
  const { pending, browserSessions, translate, bodyLimits } = flow.deps;
  return async function signIn(req, ctx) {
    const form = await readFormBody(req, bodyLimits);
    const cookie = readCookie(req.headers.get("cookie"), SESSION_COOKIE);
    const pendingForm = pendingFormOf(form);
    const action = await pending.check(pendingForm, cookie);
    if (action.kind !== "sign_in") {
      throw new AuthFailure("csrf_mismatch", "This form does not belong to a sign-in");
    }
    const { request } = action;
    const client = await flow.client(request.clientId);
    ctx.client = client.clientId;
    const username = form.get("username") ?? "";
    let login: LoginSuccess;
    try {
      // The same source as /login: the client's address group and the browser's device cookie.
      login = await passwordLogin.check(username, form.get("password") ?? "", {
        address: ctx.addressGroup,
        deviceToken: presentedDeviceToken(req),
        clientId: client.clientId,
        origin: originOf(ctx),
      });
    } catch (error) {
      if (
        !(error instanceof AuthFailure) ||
        (error.code !== "invalid_credentials" && error.code !== "throttled")
      ) {
        throw error;
      }
      const answer = translate(error)!;
      return await flow.signInPage(request, client, cookie, {
        username,
        error: error.code === "throttled"
          ? `Too many failed sign-in attempts; try again in ${error.retryAfterSeconds} seconds`
          : SIGN_IN_FAILED,
        status: answer.status,
        headers: answer.headers,
        form: { id: pendingForm.id!, csrfToken: pendingForm.csrfToken! },
      });
    }
    await pending.finish(pendingForm.id!);
    const signedIn = await browserSessions.signIn(login.username, cookie);
    ctx.user = login.username;
    const res = await flow.proceed(request, client, signedIn.session, signedIn.cookie, true);
    res.headers.append("set-cookie", sessionCookie(signedIn.cookie));
    res.headers.append(
      "set-cookie",
      deviceCookie({ token: login.deviceToken, maxAgeSeconds: login.deviceTokenExpiresIn }),
    );
    return res;
  };
}
