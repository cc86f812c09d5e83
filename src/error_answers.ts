/**
 * @module
 * The one table that turns a domain error into an answer: status, client message, wire code and
 * headers for every {@linkcode AuthErrorCode} and {@linkcode StoreErrorCode}. The edge calls it
 * for every error that is not its own; an error it does not know becomes a logged 500.
 */
import { type AuthErrorCode, AuthFailure } from "./auth/errors.ts";
import type { ErrorAnswer, ErrorTranslator } from "./http/edge.ts";
import { type StoreErrorCode, StoreFailure } from "./store/errors.ts";

/** Seconds clients are asked to wait while the store is unreachable. */
const STORE_RETRY_AFTER_SECONDS = 5;

/** RFC 6749 §5.2: a failed client authentication names the scheme to use. */
const BASIC_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"';

interface AuthAnswer {
  status: number;
  /** The code on the wire (RFC 6749 §5.2, RFC 6750 §3.1); absent for a bare 401. */
  wireCode?: string;
  /** Whether a `WWW-Authenticate: Bearer` challenge goes with it (RFC 6750 §3). */
  bearerChallenge?: boolean;
}

const AUTH_ANSWERS: Record<AuthErrorCode, AuthAnswer> = {
  missing_token: { status: 401, bearerChallenge: true },
  invalid_token: { status: 401, wireCode: "invalid_token", bearerChallenge: true },
  insufficient_scope: { status: 403, wireCode: "insufficient_scope", bearerChallenge: true },
  invalid_credentials: { status: 400, wireCode: "invalid_grant" },
  throttled: { status: 429, wireCode: "temporarily_unavailable" },
  invalid_request: { status: 400, wireCode: "invalid_request" },
  invalid_client: { status: 401, wireCode: "invalid_client" },
  unauthorized_client: { status: 400, wireCode: "unauthorized_client" },
  invalid_grant: { status: 400, wireCode: "invalid_grant" },
  invalid_scope: { status: 400, wireCode: "invalid_scope" },
  unsupported_grant_type: { status: 400, wireCode: "unsupported_grant_type" },
  unknown_client: { status: 400, wireCode: "invalid_request" },
  unregistered_redirect_uri: { status: 400, wireCode: "invalid_request" },
  invalid_id_token_hint: { status: 400, wireCode: "invalid_request" },
  csrf_mismatch: { status: 403 },
  expired_request: { status: 400 },
  unsupported_response_type: { status: 400, wireCode: "unsupported_response_type" },
  access_denied: { status: 403, wireCode: "access_denied" },
  login_required: { status: 400, wireCode: "login_required" },
  consent_required: { status: 400, wireCode: "consent_required" },
  request_not_supported: { status: 400, wireCode: "request_not_supported" },
  request_uri_not_supported: { status: 400, wireCode: "request_uri_not_supported" },
};

const STORE_ANSWERS: Record<StoreErrorCode, (error: StoreFailure) => ErrorAnswer> = {
  unavailable: () => ({
    status: 503,
    message: "Service temporarily unavailable; try again shortly",
    headers: { "retry-after": String(STORE_RETRY_AFTER_SECONDS) },
    warning: "Store unavailable",
  }),
  duplicate_user: (error) => ({ status: 409, message: error.message }),
  duplicate_client: (error) => ({ status: 409, message: error.message }),
};

/**
 * The translator for the edge; `realm` is named in `WWW-Authenticate: Bearer` challenges.
 *
 * @example
 * ```ts
 * const edge = createEdge(dispatch, { logger, translate: createErrorTranslator("auth-api") });
 * ```
 */
export function createErrorTranslator(realm: string): ErrorTranslator {
  return function translate(error) {
    if (error instanceof AuthFailure) return authAnswer(error, realm);
    if (error instanceof StoreFailure) return STORE_ANSWERS[error.code](error);
    return undefined;
  };
}

function authAnswer(error: AuthFailure, realm: string): ErrorAnswer {
  const { status, wireCode, bearerChallenge } = AUTH_ANSWERS[error.code];
  const headers: Record<string, string> = {};
  if (bearerChallenge) headers["www-authenticate"] = bearerChallengeFor(realm, error, wireCode);
  if (error.code === "invalid_client") headers["www-authenticate"] = BASIC_CHALLENGE;
  if (error.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(error.retryAfterSeconds);
  }
  return { status, message: error.message, code: wireCode, headers };
}

/** Builds an RFC 6750 `WWW-Authenticate: Bearer` challenge. */
function bearerChallengeFor(
  realm: string,
  error: AuthFailure,
  wireCode: string | undefined,
): string {
  const parts = [`realm="${quotable(realm)}"`];
  if (wireCode) {
    parts.push(`error="${wireCode}"`, `error_description="${quotable(error.message)}"`);
  }
  if (error.scope) parts.push(`scope="${quotable(error.scope)}"`);
  return `Bearer ${parts.join(", ")}`;
}

function quotable(text: string): string {
  return text.replace(/["\\]/g, "'");
}
