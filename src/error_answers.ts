/**
 * @module
 * The one place that turns an error into an answer. One table gives every
 * {@linkcode AuthErrorCode}, {@linkcode StoreErrorCode} and the HTTP layer's
 * {@linkcode HttpError} its status, message, wire code and headers; each route's dialect words
 * the answer: Flask's `{"msg"}`, `{"msg", "error"}`, OAuth's `{"error", "error_description"}`,
 * or a page for people. The sign-in pages and the redirects to clients take their words from the
 * same table. An error no table knows is left to the edge, which logs it and answers 500.
 */
import { IN_FLIGHT } from "./auth/accounts/throttle.ts";
import { type AuthErrorCode, AuthFailure } from "./auth/errors.ts";
import { DPOP_ALGORITHMS } from "./auth/tokens/dpop_proofs.ts";
import type { ErrorDialect } from "./http/context.ts";
import type { ErrorResponder } from "./http/edge.ts";
import { HttpError } from "./http/errors.ts";
import { htmlResponse } from "./http/html.ts";
import { json } from "./http/json.ts";
import { messagePage } from "./pages/messages.ts";
import { type StoreErrorCode, StoreFailure } from "./store/errors.ts";

/** How one error is answered, whatever the dialect. */
export interface ErrorAnswer {
  status: number;
  /** Text for the client: `msg`, `error_description`, or what a page says. */
  message: string;
  /** The RFC 6749 §5.2 or RFC 6750 code, for dialects that carry one. */
  code?: string;
  headers?: Record<string, string>;
  /** Written to the log at warn level with the request id, when set. */
  warning?: string;
}

/** The answers of every error, in every dialect. */
export interface ErrorAnswers {
  /** The response to `error` in a route's dialect; undefined for an error no table knows. */
  respond: ErrorResponder;
  /** A domain error as a page words it: status, message for people, headers. */
  page(error: AuthFailure): ErrorAnswer;
  /** A domain error sent back to a client by redirect (RFC 6749 §4.1.2.1). */
  redirect(error: AuthFailure): { error: string; error_description: string };
}

/** Seconds clients are asked to wait while the store is unreachable. */
const STORE_RETRY_AFTER_SECONDS = 5;

/** RFC 6749 §5.2: a failed client authentication names the scheme to use. */
const BASIC_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"';

/** RFC 6749 §5.1 asks token endpoint answers, errors included, not to be cached. */
const OAUTH_ERROR_HEADERS = { "cache-control": "no-store", pragma: "no-cache" };

interface AuthAnswer {
  status: number;
  /** The code on the wire (RFC 6749 §5.2, RFC 6750 §3.1); absent for a bare 401. */
  wireCode?: string;
  /** Whether a `WWW-Authenticate: Bearer` challenge goes with it (RFC 6750 §3). */
  bearerChallenge?: boolean;
  /** What a page says instead of the message, where the message is meant for programs. */
  onPage?: (error: AuthFailure) => string;
}

/** Errors of RFC 6749 §5.2 and §4.1.2.1 (OIDC Core §3.1.2.6), each its own code on the wire. */
function oauthErrors<Code extends AuthErrorCode>(
  status: number,
  codes: readonly Code[],
): Record<Code, AuthAnswer> {
  const answers = {} as Record<Code, AuthAnswer>;
  for (const code of codes) answers[code] = { status, wireCode: code };
  return answers;
}

/** A request that names an unknown client or target: shown, never redirected (§4.1.2.1). */
const NOT_REDIRECTED: AuthAnswer = { status: 400, wireCode: "invalid_request" };

/** The answer of every domain error: the compiler asks for one per code. */
const AUTH_ANSWERS: Record<AuthErrorCode, AuthAnswer> = {
  // Protected resources (RFC 6750 §3): a challenge names what was wrong.
  missing_token: { status: 401, bearerChallenge: true },
  invalid_token: { status: 401, wireCode: "invalid_token", bearerChallenge: true },
  insufficient_scope: { status: 403, wireCode: "insufficient_scope", bearerChallenge: true },
  // Logins: the OAuth dialect's words, and the sign-in page's own.
  invalid_credentials: {
    status: 400,
    wireCode: "invalid_grant",
    onPage: () => "Invalid username or password",
  },
  throttled: {
    status: 429,
    wireCode: "temporarily_unavailable",
    // A refusal for attempts in flight claims no failures.
    onPage: (error) =>
      error.reason === IN_FLIGHT
        ? "Too many sign-in attempts in progress; try again in a moment"
        : `Too many failed sign-in attempts; try again in ${error.retryAfterSeconds} seconds`,
  },
  // An account with a second factor on a way in that takes none; a wrong code on the page.
  mfa_required: { status: 400, wireCode: "mfa_required" },
  invalid_code: {
    status: 400,
    wireCode: "invalid_grant",
    onPage: () => "Invalid code; codes cannot be used twice",
  },
  invalid_passkey: {
    status: 400,
    wireCode: "invalid_grant",
    onPage: (error) => `${error.message}; try again, or use another way to sign in`,
  },
  // The OAuth endpoints, and the errors redirected to clients.
  ...oauthErrors(400, [
    "invalid_request",
    "unauthorized_client",
    "invalid_grant",
    "invalid_scope",
    "unsupported_grant_type",
    "unsupported_response_type",
    "login_required",
    "consent_required",
    "request_not_supported",
    "request_uri_not_supported",
    // RFC 8628 §3.5: a device's polls are answered as every token endpoint error is.
    "access_denied",
    "authorization_pending",
    "slow_down",
    "expired_token",
  ]),
  ...oauthErrors(401, ["invalid_client"]),
  unknown_client: NOT_REDIRECTED,
  unregistered_redirect_uri: NOT_REDIRECTED,
  invalid_id_token_hint: NOT_REDIRECTED,
  // The forms of our pages.
  csrf_mismatch: { status: 403 },
  expired_request: { status: 400 },
  too_many_sign_ins: { status: 429, wireCode: "temporarily_unavailable" },
  invalid_request_uri: { status: 400, wireCode: "invalid_request_uri" },
  // DPoP (RFC 9449 §5, §8): 400 at the token endpoint, 401 with a challenge at a resource.
  ...oauthErrors(400, ["invalid_dpop_proof", "use_dpop_nonce"]),
  // A stopping instance: the client sends the request again, to another one (with Retry-After).
  shutting_down: { status: 503, wireCode: "temporarily_unavailable" },
};

/** The DPoP proof refusals, answered 401 at a protected resource (RFC 9449 §7.1, §9). */
const DPOP_RESOURCE_STATUS = 401;

const STORE_ANSWERS: Record<StoreErrorCode, (error: StoreFailure) => ErrorAnswer> = {
  unavailable: () => ({
    status: 503,
    message: "Service temporarily unavailable; try again shortly",
    headers: { "retry-after": String(STORE_RETRY_AFTER_SECONDS) },
    warning: "Store unavailable",
  }),
  duplicate_user: (error) => ({ status: 409, message: error.message }),
  duplicate_client: (error) => ({ status: 409, message: error.message }),
  name_taken: (error) => ({ status: 409, message: error.message }),
};

/**
 * The answers of every error; `realm` is named in `WWW-Authenticate: Bearer` challenges.
 *
 * @example
 * ```ts
 * const answers = createErrorAnswers("auth-api");
 * const edge = createEdge(dispatch, { logger, respond: answers.respond });
 * ```
 */
export function createErrorAnswers(realm: string): ErrorAnswers {
  const answerOf = (error: unknown, dialect: ErrorDialect): ErrorAnswer | undefined => {
    if (error instanceof HttpError) return protocolAnswer(error, dialect);
    if (error instanceof AuthFailure) return authAnswer(error, realm);
    if (error instanceof StoreFailure) return STORE_ANSWERS[error.code](error);
    return undefined;
  };
  return {
    respond(error, dialect) {
      const answer = answerOf(error, dialect);
      if (!answer) return undefined;
      const worded = dialect === "page" && error instanceof AuthFailure
        ? { ...answer, message: pageMessage(error) }
        : answer;
      return { response: answerIn(dialect, worded), warning: answer.warning };
    },
    page(error) {
      return { ...authAnswer(error, realm), message: pageMessage(error) };
    },
    redirect(error) {
      return {
        error: AUTH_ANSWERS[error.code].wireCode ?? "invalid_request",
        error_description: error.message,
      };
    },
  };
}

/**
 * The answer to a request the protocol refuses. In the OAuth dialect every such refusal (a body
 * too large, too slow, of the wrong type or not readable, a wrong method) is `invalid_request`
 * (RFC 6749 §5.2), so that clients find an `error` code whatever went wrong.
 */
function protocolAnswer(error: HttpError, dialect: ErrorDialect): ErrorAnswer {
  const code = error.code ??
    (dialect === "oauth" && error.status < 500 ? "invalid_request" : undefined);
  return { status: error.status, message: error.message, code, headers: error.headers };
}

function authAnswer(error: AuthFailure, realm: string): ErrorAnswer {
  const { wireCode, bearerChallenge } = AUTH_ANSWERS[error.code];
  let { status } = AUTH_ANSWERS[error.code];
  const headers: Record<string, string> = {};
  if (error.dpopChallenge) {
    if (error.code === "invalid_dpop_proof" || error.code === "use_dpop_nonce") {
      status = DPOP_RESOURCE_STATUS;
    }
    headers["www-authenticate"] = challengeFor("DPoP", realm, error, wireCode);
  } else if (bearerChallenge) {
    headers["www-authenticate"] = challengeFor("Bearer", realm, error, wireCode);
  }
  if (error.dpopNonce !== undefined) headers["dpop-nonce"] = error.dpopNonce;
  if (error.code === "invalid_client") headers["www-authenticate"] = BASIC_CHALLENGE;
  if (error.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(error.retryAfterSeconds);
  }
  return { status, message: error.message, code: wireCode, headers };
}

function pageMessage(error: AuthFailure): string {
  return AUTH_ANSWERS[error.code].onPage?.(error) ?? error.message;
}

function answerIn(dialect: ErrorDialect, answer: ErrorAnswer): Response {
  const { status, message, code, headers } = answer;
  // An outage keeps the JSON shape on pages too: it is no answer a person can act on.
  if (dialect === "page" && !answer.warning) {
    return htmlResponse(messagePage(pageTitle(status), message), { status, headers });
  }
  if (code === undefined || dialect === "flask" || dialect === "page") {
    return json({ msg: message }, { status, headers });
  }
  if (dialect === "flask_with_code") {
    return json({ msg: message, error: code }, { status, headers });
  }
  return json({ error: code, error_description: message }, {
    status,
    headers: { ...headers, ...OAUTH_ERROR_HEADERS },
  });
}

function pageTitle(status: number): string {
  if (status === 403) return "Request refused";
  if (status === 429) return "Too many attempts";
  return "This request cannot be completed";
}

/**
 * Builds an RFC 6750 `WWW-Authenticate: Bearer` challenge, or an RFC 9449 §7.1 `DPoP` one, which
 * also names the proof algorithms accepted.
 */
function challengeFor(
  scheme: "Bearer" | "DPoP",
  realm: string,
  error: AuthFailure,
  wireCode: string | undefined,
): string {
  const parts = [`realm="${quotable(realm)}"`];
  if (wireCode) {
    parts.push(`error="${wireCode}"`, `error_description="${quotable(error.message)}"`);
  }
  if (error.scope) parts.push(`scope="${quotable(error.scope)}"`);
  if (scheme === "DPoP") parts.push(`algs="${DPOP_ALGORITHMS.join(" ")}"`);
  return `${scheme} ${parts.join(", ")}`;
}

function quotable(text: string): string {
  return text.replace(/["\\]/g, "'");
}
