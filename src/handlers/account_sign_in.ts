/**
 * @module
 * `GET /account/sign-in`: the account page's own sign-in, through the same pages as an app's
 * (password, then the second factor or a passkey), and back to `/account`. With `prompt=login`
 * it asks again even for a signed-in browser: the re-authentication that sensitive changes on
 * the account page need.
 */
import { accountSignInRequest } from "../auth/sign_in/account_sign_in.ts";
import type { SignInFlow } from "../auth/sign_in/flow.ts";
import type { Handler } from "../http/context.ts";
import { browserCookie, type BrowserPageDeps, showStep } from "./_browser_pages.ts";

/** Where the account page's sign-in starts. */
export const ACCOUNT_SIGN_IN_PATH = "/account/sign-in";

/** The account page's sign-in, back to `/account` under `deps.issuer` once signed in. */
export function createAccountSignInHandler(flow: SignInFlow, deps: BrowserPageDeps): Handler {
  return async function accountSignIn(req, ctx) {
    const again = new URL(req.url).searchParams.get("prompt") === "login";
    const request = accountSignInRequest(`${deps.issuer}/account`, again);
    const step = await flow.resume(request, browserCookie(req), ctx.addressGroup);
    return showStep(step, ctx, deps);
  };
}
