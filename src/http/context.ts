/**
 * @module
 * What a handler receives besides the request, and the handler type itself.
 */

/**
 * How a route words its errors: `flask` as `{"msg"}` (the original tutorial's endpoints),
 * `flask_with_code` as `{"msg", "error"}`, `oauth` as RFC 6749 §5.2 `{"error",
 * "error_description"}`, `page` as an HTML page for people.
 */
export type ErrorDialect = "flask" | "flask_with_code" | "oauth" | "page";

/** Per-request facts that handlers and the access log share. */
export interface RequestContext {
  /** Identifier echoed in `X-Request-Id` and in log lines. */
  requestId: string;
  /** The client's IP address: the TCP peer, or what a trusted proxy reports. */
  remoteAddress: string;
  /** What per-client budgets count against: the address, or its IPv6 prefix (`…::/64`). */
  addressGroup: string;
  /** Named groups of the matched route pattern. */
  params: Record<string, string | undefined>;
  /** How errors of this request are worded; set by the router from the route. */
  errorDialect: ErrorDialect;
  /** The matched route's pattern (`/hello`), a bounded label for metrics; unset when none matched. */
  route?: string;
  /** Whether the request gets an access-log line; the router clears it for quiet routes. */
  accessLog: boolean;
  /** The authenticated user, for the access log; set where a user is authenticated. */
  user?: string;
  /** The authenticated OAuth client, for the access log. */
  client?: string;
}

/** A request handler. */
export type Handler = (req: Request, ctx: RequestContext) => Response | Promise<Response>;
