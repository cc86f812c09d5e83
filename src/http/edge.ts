import type { Logger } from "../log.ts";
import type { Handler, RequestContext } from "./context.ts";
import { type BodyLimits, deferBodyCancel, settleBody } from "./body.ts";
import { AuthError, HttpError, OAuthError } from "./errors.ts";
import { json, JSON_CONTENT_TYPE } from "./json.ts";
import { StoreUnavailableError } from "../store/store.ts";
import { pathnameOf } from "../router.ts";

/** Settings of the request edge. */
export interface EdgeOptions {
  logger: Logger;
  /** Realm named in `WWW-Authenticate`. */
  realm: string;
  /**
   * Bounds for reading what handlers left of a request body before answering (see
   * {@linkcode settleBody}); by default 16 KiB and 1 s, within every configuration.
   */
  bodyLimits?: BodyLimits;
}

/** The function `Deno.serve` calls. */
export type ServeHandler = (req: Request, info: Deno.ServeHandlerInfo) => Promise<Response>;

/** The body size limit and the shortest `BODY_TIMEOUT` the configuration accepts. */
const DEFAULT_BODY_LIMITS: BodyLimits = { maxBytes: 16 * 1024, timeoutMs: 1000 };

/** Seconds clients are asked to wait while the store is unreachable. */
const STORE_RETRY_AFTER_SECONDS = 5;

const SECURITY_HEADERS: Record<string, string> = {
  "strict-transport-security": "max-age=63072000",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
};

/**
 * Wraps the router with what every request gets: a request id, one JSON error shape (a 500 logs
 * its stack and never sends it), security headers and an access log line. Header size is bounded
 * by Deno's HTTP layer, which refuses oversized header blocks before they reach this code. What
 * handlers leave of a request body is read before the answer goes out, so HTTP/2 clients get it.
 */
export function createEdge(dispatch: Handler, options: EdgeOptions): ServeHandler {
  const { logger, realm, bodyLimits = DEFAULT_BODY_LIMITS } = options;
  return async function edge(req, info) {
    const started = performance.now();
    const body = req.body;
    if (body) deferBodyCancel(body);
    const ctx: RequestContext = {
      requestId: crypto.randomUUID(),
      remoteAddress: (info.remoteAddr as Deno.NetAddr).hostname ?? "",
      params: {},
    };
    let res: Response;
    try {
      res = await dispatch(req, ctx);
    } catch (error) {
      res = errorResponse(error, realm, logger, ctx);
    }
    res = await secured(res, req.method === "HEAD", ctx.requestId);
    if (body) res = await settleBody(req, res, bodyLimits);
    if (logger.enabled("info")) {
      logger.log("info", "request", {
        request_id: ctx.requestId,
        method: req.method,
        path: pathnameOf(req.url),
        status: res.status,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        user: ctx.user,
        remote_address: ctx.remoteAddress,
      });
    }
    return res;
  };
}

/**
 * `Deno.serve`'s `onError`, reached only if the edge itself fails: the error is logged and the
 * answer keeps the one JSON error shape.
 */
export function createServeErrorHandler(logger: Logger): (error: unknown) => Response {
  return function serveError(error) {
    logger.log("error", "Unhandled error outside the edge", {
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
    return json({ msg: "Internal server error" }, { status: 500 });
  };
}

/**
 * Adds the request id and the security headers, and drops the body of a HEAD answer (over
 * HTTP/2 Deno would send it, which clients reject). Responses with immutable headers are copied.
 */
async function secured(res: Response, head: boolean, requestId: string): Promise<Response> {
  if (head && res.body) {
    await res.body.cancel();
    res = new Response(null, { status: res.status, headers: res.headers });
  }
  let headers = res.headers;
  try {
    headers.set("x-request-id", requestId);
  } catch {
    res = new Response(res.body, { status: res.status, headers: new Headers(res.headers) });
    headers = res.headers;
    headers.set("x-request-id", requestId);
  }
  for (const name in SECURITY_HEADERS) headers.set(name, SECURITY_HEADERS[name]);
  if (!headers.has("content-type")) headers.set("content-type", JSON_CONTENT_TYPE);
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  return res;
}

function errorResponse(error: unknown, realm: string, logger: Logger, ctx: RequestContext) {
  if (error instanceof HttpError) {
    return json(error.body ?? { msg: error.message }, {
      status: error.status,
      headers: error.headers,
    });
  }
  if (error instanceof OAuthError) {
    return json({ error: error.code, error_description: error.message }, {
      status: error.status,
      headers: { ...error.headers, "cache-control": "no-store", pragma: "no-cache" },
    });
  }
  if (error instanceof AuthError) {
    return json({ msg: error.message }, {
      status: error.code === "insufficient_scope" ? 403 : 401,
      headers: { "www-authenticate": bearerChallenge(realm, error) },
    });
  }
  if (error instanceof StoreUnavailableError) {
    logger.log("warn", "Store unavailable", { request_id: ctx.requestId, error: error.message });
    return json({ msg: "Service temporarily unavailable; try again shortly" }, {
      status: 503,
      headers: { "retry-after": String(STORE_RETRY_AFTER_SECONDS) },
    });
  }
  logger.log("error", "Unhandled error", {
    request_id: ctx.requestId,
    error: error instanceof Error ? error.stack ?? error.message : String(error),
  });
  return json({ msg: "Internal server error", request_id: ctx.requestId }, { status: 500 });
}

/** Builds an RFC 6750 `WWW-Authenticate: Bearer` challenge. */
export function bearerChallenge(realm: string, error: AuthError): string {
  const parts = [`realm="${quotable(realm)}"`];
  if (error.code) {
    parts.push(`error="${error.code}"`, `error_description="${quotable(error.message)}"`);
  }
  if (error.scope) parts.push(`scope="${quotable(error.scope)}"`);
  return `Bearer ${parts.join(", ")}`;
}

function quotable(text: string): string {
  return text.replace(/["\\]/g, "'");
}
