/**
 * @module
 * `POST /consent`: the consent page's form.
 */
import type { SignInFlow } from "../auth/sign_in/flow.ts";
import type { Handler } from "../http/context.ts";
import { type BrowserPageDeps, readPostedPage, showStep } from "./_browser_pages.ts";

/**
 * The consent form: 403 unless it carries the CSRF token of its pending request and comes from
 * the browser (and session) it was shown to. "Allow" is remembered for the user and client and
 * sends the code; anything else sends `access_denied`.
 */
export function createConsentHandler(flow: SignInFlow, deps: BrowserPageDeps): Handler {
  return async function consent(req, ctx) {
    const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
    const step = await flow.consent(posted, cookie, form.get("decision") === "allow");
    return showStep(step, ctx, deps);
  };
}
