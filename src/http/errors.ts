/**
 * @module
 * The one error of the HTTP layer: a request the protocol itself refuses (unknown path, wrong
 * method, unreadable body). Domain layers have their own errors; this module knows none of them.
 */

/** Options of an {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** Extra response headers, such as `Allow`. */
  headers?: Record<string, string>;
  /** The RFC 6749 §5.2 code, for endpoints that answer in the OAuth error shape. */
  code?: "invalid_request";
}

/** An error that becomes an HTTP response with a JSON `{"msg": ...}` body. */
export class HttpError extends Error {
  /** HTTP status code to answer with. */
  readonly status: number;
  /** Extra response headers, such as `Allow`. */
  readonly headers: Record<string, string>;
  /** The RFC 6749 §5.2 code, for endpoints that answer in the OAuth error shape. */
  readonly code?: "invalid_request";

  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = options.headers ?? {};
    this.code = options.code;
  }
}

/**
 * A request body whose connection ended before the body did: the client went away, or the
 * listener is closing. The edge answers it 503 with `Retry-After` while the service shuts down.
 */
export class BodyCutShortError extends HttpError {
  constructor() {
    super(400, "Request body ended before it was complete");
    this.name = "BodyCutShortError";
  }
}
