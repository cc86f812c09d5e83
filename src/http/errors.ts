/** An error that becomes an HTTP response with a JSON `{"msg": ...}` body (or a custom body). */
export class HttpError extends Error {
  /** HTTP status code to answer with. */
  readonly status: number;
  /** Extra response headers, such as `Retry-After` or `Allow`. */
  readonly headers: Record<string, string>;
  /** Body to send instead of `{"msg": message}`. */
  readonly body?: Record<string, unknown>;

  constructor(
    status: number,
    message: string,
    options: { headers?: Record<string, string>; body?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = options.headers ?? {};
    this.body = options.body;
  }
}

/** RFC 6750 error codes carried in `WWW-Authenticate`. */
export type BearerErrorCode = "invalid_request" | "invalid_token" | "insufficient_scope";

/** A failed bearer-token check; the app turns it into 401 (or 403) with `WWW-Authenticate`. */
export class AuthError extends Error {
  /** RFC 6750 error code, absent when no credentials were sent at all. */
  readonly code?: BearerErrorCode;
  /** Scope that the resource requires, for `insufficient_scope`. */
  readonly scope?: string;

  constructor(code: BearerErrorCode | undefined, message: string, scope?: string) {
    super(message);
    this.name = "AuthError";
    this.code = code;
    this.scope = scope;
  }
}

/** RFC 6749 §5.2 error codes, plus RFC 6749 §4.1.2.1's `temporarily_unavailable`. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "temporarily_unavailable";

/** An OAuth 2.0 error, answered as `{"error", "error_description"}` (RFC 6749 §5.2). */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    code: OAuthErrorCode,
    description: string,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(description);
    this.name = "OAuthError";
    this.code = code;
    this.status = options.status ?? 400;
    this.headers = options.headers ?? {};
  }
}
