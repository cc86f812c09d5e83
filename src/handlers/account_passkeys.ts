/**
 * @module
 * The account page's passkey forms: `POST /account/passkeys` (start adding one: the page that
 * asks the browser for it), `/account/passkeys/finish` (the browser's new credential),
 * `/account/passkeys/rename` and `/account/passkeys/remove`, each behind the browser session
 * and its CSRF-bound form. It reads the request and shows the view the account settings return.
 */
import type { AccountSettings } from "../auth/sign_in/account_settings.ts";
import type { Handler } from "../http/context.ts";
import { originOf } from "./_authenticate.ts";
import { type BrowserPageDeps, readPostedPage } from "./_browser_pages.ts";
import { showAccountView } from "./account.ts";

/** The longest credential JSON read from a form: far above any real one. */
export const MAX_CREDENTIAL_CHARS = 16_384;

/** The handlers of the account page's passkey forms. */
export interface AccountPasskeyHandlers {
  start: Handler;
  finish: Handler;
  rename: Handler;
  remove: Handler;
}

/** The passkey forms' handlers on `settings`. */
export function createAccountPasskeyHandlers(
  settings: AccountSettings,
  deps: BrowserPageDeps,
): AccountPasskeyHandlers {
  return {
    async start(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const name = (form.get("name") ?? "").slice(0, 256);
      return showAccountView(await settings.startPasskey(posted, cookie, name), ctx, deps);
    },
    async finish(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const view = await settings.finishPasskey(posted, cookie, {
        credential: (form.get("credential") ?? "").slice(0, MAX_CREDENTIAL_CHARS),
        origin: originOf(ctx),
      });
      return showAccountView(view, ctx, deps);
    },
    async rename(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const view = await settings.renamePasskey(posted, cookie, {
        id: (form.get("id") ?? "").slice(0, 2048),
        name: (form.get("name") ?? "").slice(0, 256),
        origin: originOf(ctx),
      });
      return showAccountView(view, ctx, deps);
    },
    async remove(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const view = await settings.removePasskey(posted, cookie, {
        id: (form.get("id") ?? "").slice(0, 2048),
        origin: originOf(ctx),
      });
      return showAccountView(view, ctx, deps);
    },
  };
}
