/**
 * @module
 * `POST /sign-in/passkey` (the sign-in page's passkey form: a passkey alone signs in),
 * `POST /sign-in/second-factor/passkey` (a passkey as the second factor after a password) and
 * `POST /sign-in/second-factor/new-passkey` (a new passkey, where a second factor must be set up
 * after the password). Each
 * carries the pending step's id and CSRF token and the browser's credential as JSON; success
 * starts a browser session and goes on to consent or to the client.
 */
import type { PasskeySignIn } from "../auth/sign_in/passkey_sign_in.ts";
import type { Handler } from "../http/context.ts";
import { sourceOf } from "./_authenticate.ts";
import { type BrowserPageDeps, readPostedPage, showStep } from "./_browser_pages.ts";
import { MAX_CREDENTIAL_CHARS } from "./account_passkeys.ts";

/** The passkey forms of the sign-in and second-factor pages. */
export interface PasskeySignInHandlers {
  signIn: Handler;
  secondFactor: Handler;
  enrol: Handler;
}

/** The passkey sign-in handlers on `passkeySignIn`. */
export function createPasskeySignInHandlers(
  passkeySignIn: PasskeySignIn,
  deps: BrowserPageDeps,
): PasskeySignInHandlers {
  const answering = (use: "signIn" | "secondFactor" | "enrol"): Handler => async (req, ctx) => {
    const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
    const step = await passkeySignIn[use](posted, cookie, {
      credential: (form.get("credential") ?? "").slice(0, MAX_CREDENTIAL_CHARS),
      ...sourceOf(ctx),
    });
    return showStep(step, ctx, deps);
  };
  return {
    signIn: answering("signIn"),
    secondFactor: answering("secondFactor"),
    enrol: answering("enrol"),
  };
}
