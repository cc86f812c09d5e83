/**
 * @module
 * What the sign-in pages share: taking an authorization on from wherever it stands (sign-in
 * page, consent page, or the code sent back), answering the client by redirect with `iss`
 * (RFC 9207), and showing the errors that must not be redirected as a page.
 */
import type { AuthorizationCodes } from "../auth/sign_in/authorization_codes.ts";
import type {
  AuthorizationRequest,
  RedirectTarget,
} from "../auth/sign_in/authorization_requests.ts";
import type { BrowserSession, BrowserSessions } from "../auth/sign_in/browser_sessions.ts";
import type { ClientRegistry, RegisteredClient } from "../auth/clients/registry.ts";
import type { Consents } from "../auth/sign_in/consents.ts";
import { AuthFailure } from "../auth/errors.ts";
import type { IdTokens } from "../auth/sign_in/id_tokens.ts";
import type { PendingForm, PendingRequests } from "../auth/sign_in/pending_requests.ts";
import { formActionSource } from "../auth/clients/redirect_uris.ts";
import { type ScopePolicy, scopeTokens } from "../auth/scopes.ts";
import { isSecretShaped, randomSecret } from "../auth/secrets.ts";
import { unixNow } from "../clock.ts";
import type { BodyLimits } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { sessionCookie } from "../http/cookies.ts";
import type { ErrorTranslator } from "../http/edge.ts";
import { HttpError } from "../http/errors.ts";
import { htmlResponse } from "../http/html.ts";
import { consentPage, describeScope } from "../pages/consent.ts";
import { messagePage } from "../pages/messages.ts";
import { signInPage } from "../pages/sign_in.ts";

/** The services behind the sign-in pages. */
export interface BrowserFlowDeps {
  /** Our issuer, sent as `iss` with every authorization answer. */
  issuer: string;
  clients: ClientRegistry;
  /** Scopes, with `openid` and `profile`. */
  policy: ScopePolicy;
  pending: PendingRequests;
  browserSessions: BrowserSessions;
  consents: Consents;
  codes: AuthorizationCodes;
  idTokens: IdTokens;
  translate: ErrorTranslator;
  bodyLimits: BodyLimits;
}

/** What the sign-in page shows besides the request. */
export interface SignInView {
  username?: string;
  error?: string;
  status?: number;
  headers?: Record<string, string>;
  /** The pending step to keep, when the page is shown again after a failed attempt. */
  form?: PendingForm;
}

/** Takes authorizations on and answers clients; shared by the sign-in handlers. */
export class BrowserFlow {
  readonly deps: BrowserFlowDeps;

  constructor(deps: BrowserFlowDeps) {
    this.deps = deps;
  }

  /**
   * Takes a validated request on: the sign-in page unless the browser's session will do
   * (`signedIn` after the password was just entered), then the consent page for a third-party
   * client that needs it, then the code. With `prompt=none` a needed page is an error instead.
   */
  async proceed(
    request: AuthorizationRequest,
    client: RegisteredClient,
    session: BrowserSession | undefined,
    cookie: string | undefined,
    signedIn = false,
  ): Promise<Response> {
    const silent = request.prompt.includes("none");
    // Whole seconds: max_age=0 always asks again, as it must.
    const stale = session !== undefined && request.maxAge !== undefined &&
      unixNow() - session.authTime >= request.maxAge;
    if (!signedIn && (!session || stale || request.prompt.includes("login"))) {
      if (silent) return this.redirectError(request, loginRequired());
      return await this.signInPage(request, client, cookie, { username: request.loginHint });
    }
    const prompted = request.prompt.includes("consent");
    if (await this.deps.consents.required(session!.username, client, request.scope, prompted)) {
      if (silent) {
        return this.redirectError(
          request,
          new AuthFailure("consent_required", "The user has not allowed this client"),
        );
      }
      return await this.consentPage(request, client, session!, cookie!);
    }
    return await this.issueCode(request, session!);
  }

  /** Sends a code for the request back to the client. */
  async issueCode(request: AuthorizationRequest, session: BrowserSession): Promise<Response> {
    const code = await this.deps.codes.issue(request, session);
    return this.redirect(request, { code });
  }

  /**
   * The sign-in page, bound to the browser's cookie; a browser without one gets a new random
   * cookie here (never a session: that is made only at sign-in, under yet another value).
   */
  async signInPage(
    request: AuthorizationRequest,
    client: RegisteredClient,
    cookie: string | undefined,
    view: SignInView = {},
  ): Promise<Response> {
    const binding = isSecretShaped(cookie) ? cookie : randomSecret();
    const form = view.form ?? await this.deps.pending.start({ kind: "sign_in", request }, binding);
    const res = htmlResponse(
      signInPage({
        clientName: client.displayName,
        requestId: form.id,
        csrfToken: form.csrfToken,
        username: view.username,
        error: view.error,
      }),
      {
        status: view.status,
        headers: view.headers,
        formTargets: [formActionSource(request.redirectUri)],
      },
    );
    if (binding !== cookie) res.headers.append("set-cookie", sessionCookie(binding));
    return res;
  }

  /** The consent page for a signed-in browser. */
  async consentPage(
    request: AuthorizationRequest,
    client: RegisteredClient,
    session: BrowserSession,
    cookie: string,
  ): Promise<Response> {
    const form = await this.deps.pending.start(
      { kind: "consent", request, sid: session.sid },
      cookie,
    );
    return htmlResponse(
      consentPage({
        clientName: client.displayName,
        username: session.username,
        scopes: scopeTokens(request.scope).map((name) => ({
          name,
          description: describeScope(name),
        })),
        requestId: form.id,
        csrfToken: form.csrfToken,
      }),
      { formTargets: [formActionSource(request.redirectUri)] },
    );
  }

  /**
   * Redirects to the client's redirect URI (its own query kept) with `params`, the request's
   * `state` and our `iss` (RFC 9207), so a client talking to several servers knows who answered.
   */
  redirect(target: RedirectTarget, params: Record<string, string>): Response {
    const url = new URL(target.redirectUri);
    for (const [name, value] of Object.entries(params)) url.searchParams.append(name, value);
    if (target.state !== undefined) url.searchParams.append("state", target.state);
    url.searchParams.append("iss", this.deps.issuer);
    return seeOther(url.href);
  }

  /** Redirects an error (RFC 6749 §4.1.2.1) to the client. */
  redirectError(target: RedirectTarget, error: AuthFailure): Response {
    const answer = this.deps.translate(error);
    return this.redirect(target, {
      error: answer?.code ?? "invalid_request",
      error_description: error.message,
    });
  }

  /** The registered client of a pending request; `unknown_client` once it was removed. */
  async client(clientId: string): Promise<RegisteredClient> {
    const client = await this.deps.clients.find(clientId);
    if (!client) throw new AuthFailure("unknown_client", `Unknown client "${clientId}"`);
    return client;
  }
}

/** A 303 redirect (RFC 9700 §4.11: never 307 after a form with a password). */
export function seeOther(location: string): Response {
  const res = new Response(null, { status: 303 });
  res.headers.set("location", location);
  res.headers.set("cache-control", "no-store");
  return res;
}

/** The id and CSRF token a posted form carries, as far as it carries them. */
export function pendingFormOf(form: URLSearchParams): { id?: string; csrfToken?: string } {
  return {
    id: form.get("request") ?? undefined,
    csrfToken: form.get("csrf_token") ?? undefined,
  };
}

/**
 * Wraps a page route: domain and protocol errors become an HTML page with the error table's
 * status and message instead of JSON. Errors the edge must log (store outages) and unknown
 * ones go on to the edge.
 */
export function pageRoute(handler: Handler, translate: ErrorTranslator): Handler {
  return async function page(req, ctx) {
    try {
      return await handler(req, ctx);
    } catch (error) {
      const answer = error instanceof HttpError
        ? { status: error.status, message: error.message, headers: error.headers }
        : translate(error);
      if (!answer || "warning" in answer && answer.warning) throw error;
      return htmlResponse(messagePage(pageTitle(answer.status), answer.message), {
        status: answer.status,
        headers: answer.headers,
      });
    }
  };
}

function pageTitle(status: number): string {
  if (status === 403) return "Request refused";
  if (status === 429) return "Too many attempts";
  return "This request cannot be completed";
}

function loginRequired(): AuthFailure {
  return new AuthFailure("login_required", "The user is not signed in");
}
