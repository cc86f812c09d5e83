/**
 * @module
 * Security events: what the authentication services report for the audit trail and the metrics
 * (a login, a refresh, a replayed refresh token, a revocation, an account or key change). The
 * services say what happened and to whom; the request's origin comes from the caller. Where the
 * events go is decided where the service is assembled. Never a password or a token.
 */

/** What happened. */
export type SecurityEventName =
  | "login_succeeded"
  | "login_failed"
  | "login_throttled"
  | "throttle_entered"
  | "token_refreshed"
  | "refresh_refused"
  | "refresh_reuse_detected"
  | "logout"
  | "token_revoked"
  | "key_rotated"
  | "key_revoked"
  | "user_added"
  | "user_removed"
  | "password_changed"
  | "user_logged_out"
  | "code_reuse_detected"
  | "browser_signed_out"
  | "client_registered"
  | "client_removed"
  | "client_secret_rotated"
  | "app_signed_out"
  | "signed_out_everywhere"
  | "device_forgotten"
  | "second_factor_enrolled"
  | "second_factor_succeeded"
  | "second_factor_failed"
  | "second_factor_reset"
  | "recovery_code_used"
  | "recovery_codes_generated"
  | "pushed_request_issued"
  | "pushed_request_refused"
  | "pushed_request_used"
  | "pushed_request_expired"
  | "device_code_issued"
  | "device_code_refused"
  | "device_code_approved"
  | "device_code_denied"
  | "device_code_expired"
  | "user_code_refused"
  | "passkey_registered"
  | "passkey_renamed"
  | "passkey_removed"
  | "passkey_succeeded"
  | "passkey_refused"
  | "dpop_proof_refused"
  | "dpop_proof_replayed";

/** One security event. */
export interface SecurityEvent {
  event: SecurityEventName;
  /** The user concerned (for a failed login: the name that was tried). */
  subject?: string;
  /** The OAuth client concerned. */
  client?: string;
  /** The client that made the request, where that may not be `client` (the token's client). */
  caller?: string;
  /** The refresh family or browser session concerned, by its `sid`. */
  sid?: string;
  /** Why, where the event has several causes (the budget that throttled, a refusal reason). */
  reason?: string;
  /** The signing key concerned. */
  kid?: string;
  /** How many sessions an account change ended. */
  sessionsEnded?: number;
  /** How many remembered devices an account change forgot. */
  devicesForgotten?: number;
}

/** Where the request behind an event came from; absent for the command line. */
export interface Origin {
  requestId?: string;
  /** The client's address, after trusted-proxy resolution. */
  address?: string;
}

/** Where services report security events. */
export interface SecurityEvents {
  /** Reports one event. */
  record(event: SecurityEvent, origin?: Origin): void;
}

/** A sink that drops every event, for services assembled without an audit trail. */
export const UNRECORDED: SecurityEvents = { record() {} };
