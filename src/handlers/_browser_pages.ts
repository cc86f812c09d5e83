/**
 * @module
 * What the handlers of the browser flows share: reading the browser's cookie and a page's posted
 * form, and showing what the sign-in flow decided: the sign-in and consent pages, the answer
 * sent back to the client by redirect with `iss` (RFC 9207), or an error page. Errors are worded
 * by the one error table the app hands in; nothing here decides what comes next.
 */
import { formActionSource } from "../auth/clients/redirect_uris.ts";
import type { AuthFailure } from "../auth/errors.ts";
import { scopeTokens } from "../auth/scopes.ts";
import type {
  AuthorizationRequest,
  RedirectTarget,
} from "../auth/sign_in/authorization_requests.ts";
import type { FlowStep } from "../auth/sign_in/flow_step.ts";
import type { PendingForm, PostedForm } from "../auth/sign_in/pending_requests.ts";
import type { StepNotes } from "../auth/sign_in/steps.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import type { RequestContext } from "../http/context.ts";
import { readCookie, SESSION_COOKIE, sessionCookie } from "../http/cookies.ts";
import { type Html, htmlResponse } from "../http/html.ts";
import { seeOther } from "../http/see_other.ts";
import { consentPage } from "../pages/consent.ts";
import { deviceConfirmationPage } from "../pages/device.ts";
import { formatUserCode } from "../auth/sign_in/user_codes.ts";
import { secondFactorPage } from "../pages/second_factor.ts";
import { recoveryCodesPage } from "../pages/account.ts";
import { signInPage } from "../pages/sign_in.ts";
import { deviceCookie } from "./_token_response.ts";

/** A domain error as a page words it. */
export interface PageWording {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** How pages and redirects word domain errors: the one error table's words. */
export interface ErrorWording {
  /** A domain error as a page words it. */
  page(error: AuthFailure): PageWording;
  /** A domain error as a redirect to the client carries it. */
  redirect(error: AuthFailure): { error: string; error_description: string };
}

/** What the handlers of the browser flows need besides their flow. */
export interface BrowserPageDeps {
  /** Our issuer, sent as `iss` with every authorization answer. */
  issuer: string;
  wording: ErrorWording;
  bodyLimits: BodyLimits;
}

/** A page's form as posted back. */
export interface PostedPage {
  form: URLSearchParams;
  /** The pending step the form names. */
  posted: PostedForm;
  /** The browser's session cookie. */
  cookie?: string;
}

/** The browser's session cookie, if it sent one. */
export function browserCookie(req: Request): string | undefined {
  return readCookie(req.headers.get("cookie"), SESSION_COOKIE);
}

/** Reads a page's posted form: its fields, the pending step it names, and the browser's cookie. */
export async function readPostedPage(req: Request, bodyLimits: BodyLimits): Promise<PostedPage> {
  const form = await readFormBody(req, bodyLimits);
  return {
    form,
    posted: {
      id: form.get("request") ?? undefined,
      csrfToken: form.get("csrf_token") ?? undefined,
    },
    cookie: browserCookie(req),
  };
}

/**
 * Shows a step of the sign-in flow, with the cookies it sets; an error page is thrown to the
 * edge, which words it in the route's dialect.
 */
export function showStep(step: FlowStep, ctx: RequestContext, deps: BrowserPageDeps): Response {
  noteStep(step, ctx);
  return withCookies(stepResponse(step, deps), step);
}

function stepResponse(step: FlowStep, deps: BrowserPageDeps): Response {
  switch (step.kind) {
    case "sign_in": {
      const answer = step.error && deps.wording.page(step.error);
      const page = signInPage({
        ...pageForm(step),
        username: step.username,
        error: answer?.message,
        passkeyOptions: step.passkeyOptions,
      });
      return credentialPage(page, step, answer);
    }
    case "second_factor": {
      const answer = step.error && deps.wording.page(step.error);
      const page = secondFactorPage({
        ...pageForm(step),
        error: answer?.message,
        enrolment: step.enrolment,
        authenticatorApp: step.authenticatorApp,
        passkeyOptions: step.passkeyOptions,
        passkeyCreationOptions: step.passkeyCreationOptions,
      });
      return credentialPage(page, step, answer);
    }
    case "recovery_codes": {
      const next = { requestId: step.form.id, csrfToken: step.form.csrfToken };
      return htmlResponse(recoveryCodesPage({ codes: step.codes, next }));
    }
    case "consent": {
      const page = consentPage({
        ...pageForm(step),
        username: step.username,
        scopes: scopeTokens(step.request.scope),
      });
      return htmlResponse(page, { formTargets: [formActionSource(step.request.redirectUri)] });
    }
    case "device_confirmation": {
      const page = deviceConfirmationPage({
        ...pageForm(step),
        username: step.username,
        userCode: formatUserCode(step.request.device!.userCode),
        scopes: scopeTokens(step.request.scope),
      });
      return htmlResponse(page);
    }
    case "account":
      return seeOther(step.returnTo);
    case "code":
      return redirectTo(step.target, { code: step.code }, deps.issuer);
    case "redirect_error":
      return redirectTo(step.target, deps.wording.redirect(step.error), deps.issuer);
    case "error_page":
      throw step.error;
  }
}

/** What every page of a pending step shows and posts back: the application's name and the form. */
function pageForm(
  step: { clientName: string; form: PendingForm },
): { clientName: string; requestId: string; csrfToken: string } {
  return { clientName: step.clientName, requestId: step.form.id, csrfToken: step.form.csrfToken };
}

/**
 * A page that asks for a credential (a password, a code or a passkey), as sent: with the status
 * and headers of the last attempt's error, forms that may end at the client's redirect URI, and
 * the passkey script where a passkey may answer.
 */
function credentialPage(
  page: Html,
  step: {
    request: AuthorizationRequest;
    passkeyOptions?: unknown;
    passkeyCreationOptions?: unknown;
  },
  answer: PageWording | undefined,
): Response {
  return htmlResponse(page, {
    status: answer?.status,
    headers: answer?.headers,
    formTargets: [formActionSource(step.request.redirectUri)],
    scripts: step.passkeyOptions !== undefined || step.passkeyCreationOptions !== undefined,
  });
}

/** Records who a step is about in the request context, for the access log. */
export function noteStep(step: StepNotes, ctx: RequestContext): void {
  if (step.user !== undefined) ctx.user = step.user;
  if (step.client !== undefined) ctx.client = step.client;
}

/**
 * Redirects to the client's redirect URI (its own query kept) with `params`, the request's
 * `state` and our `iss` (RFC 9207), so a client talking to several servers knows who answered.
 */
function redirectTo(
  target: RedirectTarget,
  params: Record<string, string>,
  issuer: string,
): Response {
  const url = new URL(target.redirectUri);
  for (const [name, value] of Object.entries(params)) url.searchParams.append(name, value);
  if (target.state !== undefined) url.searchParams.append("state", target.state);
  url.searchParams.append("iss", issuer);
  return seeOther(url.href);
}

/** Sets the cookies a step carries: a new session cookie, then the device cookie. */
function withCookies(res: Response, step: StepNotes): Response {
  if (step.sessionCookie !== undefined) {
    res.headers.append("set-cookie", sessionCookie(step.sessionCookie));
  }
  if (step.device) res.headers.append("set-cookie", deviceCookie(step.device));
  return res;
}
