/**
 * @module
 * `POST /sign-in/second-factor`: the form that asks for a code after a right password (or sets
 * up the second factor an account must have). A right code starts the browser session; a wrong
 * one shows the page again, counted by the login throttle on the client's address group.
 * `POST /sign-in/continue` goes on after the recovery codes of a second factor just set up.
 */
import type { SignInFlow } from "../auth/sign_in/flow.ts";
import type { Handler } from "../http/context.ts";
import { sourceOf } from "./_authenticate.ts";
import { type BrowserPageDeps, readPostedPage, showStep } from "./_browser_pages.ts";

/**
 * The second-factor form: 403 unless it carries the CSRF token of its pending step and comes
 * from the browser that entered the password.
 */
export function createSecondFactorHandler(flow: SignInFlow, deps: BrowserPageDeps): Handler {
  return async function secondFactor(req, ctx) {
    const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
    const step = await flow.secondFactor(posted, cookie, {
      code: (form.get("code") ?? "").slice(0, 64),
      source: sourceOf(ctx),
    });
    return showStep(step, ctx, deps);
  };
}

/**
 * `POST /sign-in/continue`: the form under the recovery codes shown after setting up a second
 * factor at sign-in; goes on to consent or to the client.
 */
export function createContinueSignInHandler(flow: SignInFlow, deps: BrowserPageDeps): Handler {
  return async function continueSignIn(req, ctx) {
    const { posted, cookie } = await readPostedPage(req, deps.bodyLimits);
    return showStep(await flow.continueSignIn(posted, cookie), ctx, deps);
  };
}
