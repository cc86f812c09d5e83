/**
 * @module
 * The account page: `GET /account` and its forms (`POST /account/totp`, `/account/totp/confirm`,
 * `/account/recovery-codes`, `/account/sign-out`, `/account/password`), each behind the browser
 * session. It reads the request, calls the account settings and shows the view they return. A
 * browser that is not signed in goes to the page's own sign-in; a change that needs a fresher
 * sign-in offers one; other errors go to the edge as pages.
 */
import type { AccountSettings, AccountView } from "../auth/sign_in/account_settings.ts";
import type { Handler, RequestContext } from "../http/context.ts";
import { clearedSessionCookie, sessionCookie } from "../http/cookies.ts";
import { htmlResponse } from "../http/html.ts";
import { seeOther } from "../http/see_other.ts";
import { messagePage } from "../pages/messages.ts";
import { accountOverviewPage, recoveryCodesPage, totpEnrolmentPage } from "../pages/account.ts";
import { passkeyRegistrationPage } from "../pages/passkeys.ts";
import { originOf, sourceOf } from "./_authenticate.ts";
import { browserCookie, type BrowserPageDeps, noteStep, readPostedPage } from "./_browser_pages.ts";
import { ACCOUNT_SIGN_IN_PATH } from "./account_sign_in.ts";

/** The handlers of the account page. */
export interface AccountHandlers {
  overview: Handler;
  startTotp: Handler;
  confirmTotp: Handler;
  recoveryCodes: Handler;
  signOut: Handler;
  changePassword: Handler;
}

/** The account page's handlers on `settings`. */
export function createAccountHandlers(
  settings: AccountSettings,
  deps: BrowserPageDeps,
): AccountHandlers {
  return {
    async overview(req, ctx) {
      const view = await settings.overview(browserCookie(req));
      // Not signed in: the account page's own sign-in, then back here.
      if (view.kind === "error_page" && view.error.code === "login_required") {
        noteStep(view, ctx);
        return seeOther(ACCOUNT_SIGN_IN_PATH);
      }
      return showAccountView(view, ctx, deps);
    },
    async startTotp(req, ctx) {
      const { posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      return showAccountView(await settings.startTotp(posted, cookie), ctx, deps);
    },
    async confirmTotp(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const view = await settings.confirmTotp(posted, cookie, {
        code: (form.get("code") ?? "").slice(0, 64),
        source: sourceOf(ctx),
      });
      return showAccountView(view, ctx, deps);
    },
    async recoveryCodes(req, ctx) {
      const { posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const view = await settings.regenerateRecoveryCodes(posted, cookie, sourceOf(ctx));
      return showAccountView(view, ctx, deps);
    },
    async changePassword(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const view = await settings.changePassword(posted, cookie, {
        current: form.get("current_password") ?? "",
        next: form.get("new_password") ?? "",
        source: sourceOf(ctx),
      });
      return showAccountView(view, ctx, deps);
    },
    async signOut(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const view = await settings.signOut(posted, cookie, {
        sid: form.get("sid") ?? undefined,
        clientId: form.get("client_id") ?? undefined,
        deviceId: form.get("device") ?? undefined,
        everywhere: form.get("everywhere") === "yes",
        origin: originOf(ctx),
      });
      return showAccountView(view, ctx, deps);
    },
  };
}

/** Shows an account view, with the cookie it sets; an error page goes to the edge. */
export function showAccountView(
  view: AccountView,
  ctx: RequestContext,
  deps: BrowserPageDeps,
): Response {
  noteStep(view, ctx);
  switch (view.kind) {
    case "overview": {
      const answer = view.error && deps.wording.page(view.error);
      const res = htmlResponse(
        accountOverviewPage({
          username: view.username,
          enrolled: view.secondFactor.authenticatorApp,
          passkeys: view.passkeys,
          recoveryCodesLeft: view.secondFactor.recoveryCodesLeft,
          browsers: view.activity.browsers,
          apps: view.activity.apps,
          devices: view.activity.devices,
          requestId: view.form.id,
          csrfToken: view.form.csrfToken,
          notice: view.notice,
          error: answer?.message,
        }),
        { status: answer?.status, headers: answer?.headers, scripts: true },
      );
      if (view.sessionCookie) res.headers.append("set-cookie", sessionCookie(view.sessionCookie));
      return res;
    }
    case "totp_enrolment": {
      const answer = view.error && deps.wording.page(view.error);
      const page = totpEnrolmentPage({
        username: view.username,
        secret: view.secret,
        uri: view.uri,
        error: answer?.message,
        requestId: view.form.id,
        csrfToken: view.form.csrfToken,
      });
      return htmlResponse(page, { status: answer?.status, headers: answer?.headers });
    }
    case "recovery_codes":
      return htmlResponse(recoveryCodesPage({ codes: view.codes }));
    case "passkey_registration": {
      const page = passkeyRegistrationPage({
        username: view.username,
        name: view.name,
        options: view.options,
        requestId: view.form.id,
        csrfToken: view.form.csrfToken,
      });
      return htmlResponse(page, { scripts: true });
    }
    case "signed_out": {
      const title = view.everywhere ? "Signed out everywhere" : "Signed out";
      const message = view.everywhere
        ? "Every session of yours has ended, in this browser and in every app"
        : "This browser is signed out";
      const res = htmlResponse(messagePage(title, message));
      res.headers.append("set-cookie", clearedSessionCookie());
      return res;
    }
    case "error_page": {
      if (view.error.code !== "login_required") throw view.error;
      // A change that needs a fresher sign-in (or one with the second factor): offer it.
      const answer = deps.wording.page(view.error);
      const page = messagePage("Sign in again", answer.message, {
        action: ACCOUNT_SIGN_IN_PATH,
        fields: { prompt: "login" },
        label: "Sign in again",
      });
      return htmlResponse(page, { status: answer.status, headers: answer.headers });
    }
  }
}
