/**
 * @module
 * Every error of the authentication domain, with a stable `code`. Services throw these and know
 * nothing of HTTP: the edge's error table turns each code into a status, a body and headers.
 */

/**
 * Why an authentication step failed.
 *
 * - `missing_token`: a protected resource was called without credentials (RFC 6750 §3.1: no code).
 * - `invalid_token`, `insufficient_scope`: RFC 6750 bearer-token errors.
 * - `invalid_credentials`: wrong or missing username or password.
 * - `throttled`: too many failed logins; retry after `retryAfterSeconds`.
 * - `mfa_required`: right password, but the account has a second factor this way in cannot take.
 * - `invalid_code`: a wrong, reused or stale second-factor code.
 * - `invalid_request` … `unsupported_grant_type`: RFC 6749 §5.2 errors of the OAuth endpoints
 *   (`unauthorized_client` also for revoking a token of another client, RFC 7009 §2.1).
 * - `unknown_client`, `unregistered_redirect_uri`, `invalid_id_token_hint`: an authorization or
 *   logout request that must not be redirected anywhere (RFC 6749 §4.1.2.1); shown as a page.
 * - `csrf_mismatch`: a form posted without the CSRF token and browser of the page it came from.
 * - `expired_request`: a form posted for a step that has expired or was already completed.
 * - `too_many_sign_ins`: one client address has too many unfinished sign-in pages; retry after
 *   `retryAfterSeconds`.
 * - `unsupported_response_type` … `request_uri_not_supported`: RFC 6749 §4.1.2.1 and OpenID
 *   Connect Core §3.1.2.6 errors, redirected to the client.
 * - `invalid_request_uri`: a pushed request's `request_uri` that is unknown, used, expired or
 *   another client's (RFC 9126 §4); shown as a page, as no redirect URI can be trusted.
 * - `authorization_pending`, `slow_down`, `expired_token` (and `access_denied`): RFC 8628 §3.5
 *   answers to a device polling the token endpoint.
 * - `invalid_dpop_proof`, `use_dpop_nonce`: RFC 9449 §5 and §8 (a refused DPoP proof; a proof
 *   without the server's current nonce, which `dpopNonce` carries).
 * - `shutting_down`: the service is stopping and will not wait for what the request needs (a
 *   login's turn); send it again, elsewhere, after `retryAfterSeconds`.
 */
export type AuthErrorCode =
  | "missing_token"
  | "invalid_token"
  | "insufficient_scope"
  | "invalid_credentials"
  | "throttled"
  | "mfa_required"
  | "invalid_code"
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "invalid_grant"
  | "invalid_scope"
  | "unsupported_grant_type"
  | "unknown_client"
  | "unregistered_redirect_uri"
  | "invalid_id_token_hint"
  | "csrf_mismatch"
  | "expired_request"
  | "too_many_sign_ins"
  | "unsupported_response_type"
  | "access_denied"
  | "login_required"
  | "consent_required"
  | "request_not_supported"
  | "request_uri_not_supported"
  | "invalid_request_uri"
  | "authorization_pending"
  | "slow_down"
  | "expired_token"
  | "invalid_passkey"
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  | "shutting_down";

/** Details some failures carry. */
export interface AuthFailureDetails extends ErrorOptions {
  /** The scope a resource requires, for `insufficient_scope`. */
  scope?: string;
  /** Seconds until a retry may succeed, for `throttled` and `too_many_sign_ins`. */
  retryAfterSeconds?: number;
  /** A short label of the cause, for metrics (such as `expired` for an `invalid_token`). */
  reason?: string;
  /** Whether a protected resource answers with a `DPoP` challenge (RFC 9449 §7.1). */
  dpopChallenge?: boolean;
  /** The nonce a DPoP client must put in its next proof (RFC 9449 §8), for `use_dpop_nonce`. */
  dpopNonce?: string;
}

/** A failed authentication step; `message` is safe to show to the client. */
export class AuthFailure extends Error {
  /** What went wrong, stable across versions. */
  readonly code: AuthErrorCode;
  /** The scope a resource requires, for `insufficient_scope`. */
  readonly scope?: string;
  /** Seconds until a retry may succeed, for `throttled` and `too_many_sign_ins`. */
  readonly retryAfterSeconds?: number;
  /** A short label of the cause, for metrics. */
  readonly reason?: string;
  /** Whether a protected resource answers with a `DPoP` challenge (RFC 9449 §7.1). */
  readonly dpopChallenge?: boolean;
  /** The nonce a DPoP client must put in its next proof (RFC 9449 §8). */
  readonly dpopNonce?: string;

  constructor(code: AuthErrorCode, message: string, details: AuthFailureDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "AuthFailure";
    this.code = code;
    this.scope = details.scope;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.reason = details.reason;
    this.dpopChallenge = details.dpopChallenge;
    this.dpopNonce = details.dpopNonce;
  }
}

/** The one answer to wrong credentials, whichever part was wrong. */
export function invalidCredentials(): AuthFailure {
  return new AuthFailure("invalid_credentials", "Invalid credentials");
}

/** A refused refresh token or authorization grant. */
export function invalidGrant(message: string): AuthFailure {
  return new AuthFailure("invalid_grant", message);
}

/** A refused client authentication. */
export function invalidClient(message: string): AuthFailure {
  return new AuthFailure("invalid_client", message);
}

/** A refused or malformed access token; `reason` labels the cause for metrics. */
export function invalidToken(message: string, reason = "invalid"): AuthFailure {
  return new AuthFailure("invalid_token", message, { reason });
}

/**
 * Too many unfinished requests from one network (an address's cap): `message` says which, and
 * the answer's `Retry-After` is the wait until the oldest frees its place at `freeAt`.
 */
export function tooManyWaiting(message: string, freeAt: number, now: number): AuthFailure {
  return new AuthFailure("too_many_sign_ins", message, {
    retryAfterSeconds: Math.max(1, freeAt - now),
  });
}
