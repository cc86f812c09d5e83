/**
 * @module
 * `POST /sign-in`: the sign-in page's form. Credentials are checked exactly as `/login` checks
 * them (throttling, the client's address and the browser's device token included); success
 * starts a browser session under a new cookie and renews the device cookie.
 */
import type { SignInFlow } from "../auth/sign_in/flow.ts";
import type { Handler } from "../http/context.ts";
import { type BrowserPageDeps, readPostedPage, showStep } from "./_browser_pages.ts";
import { originOf } from "./_authenticate.ts";
import { deviceLabel, presentedDeviceToken } from "./_token_response.ts";

/**
 * The sign-in form: 403 unless it carries the CSRF token of its pending request and comes from
 * the browser that request was shown to. Wrong credentials show the page again with one
 * generic message and the username kept; success continues to consent or to the client.
 */
export function createSignInHandler(flow: SignInFlow, deps: BrowserPageDeps): Handler {
  return async function signIn(req, ctx) {
    const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
    const step = await flow.signIn(posted, cookie, {
      username: form.get("username") ?? "",
      password: form.get("password") ?? "",
      // The same source as /login: the client's address group and the browser's device cookie.
      source: {
        address: ctx.addressGroup,
        deviceToken: presentedDeviceToken(req),
        deviceLabel: deviceLabel(req),
        origin: originOf(ctx),
      },
    });
    return showStep(step, ctx, deps);
  };
}
