/**
 * @module
 * `POST /sign-in/second-factor`: the form that asks for a code after a right password. A right
 * code starts the browser session; a wrong one shows the page again, counted by the login
 * throttle on the client's address group.
 */
import type { SignInFlow } from "../auth/sign_in/flow.ts";
import type { Handler } from "../http/context.ts";
import { originOf } from "./_authenticate.ts";
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
      source: { address: ctx.addressGroup, origin: originOf(ctx) },
    });
    return showStep(step, ctx, deps);
  };
}
