/**
 * @module
 * The edge every request passes: a request id, security headers, the access log, and the place
 * where a thrown error is answered, in the route's dialect, by the {@linkcode ErrorResponder} the
 * app hands in; an error the responder does not know is logged and answered 500. It must not
 * import from the domain layers.
 */
import type { Logger } from "../log.ts";
import {
  type ClientAddress,
  createClientAddressResolver,
  DEFAULT_CLIENT_ADDRESS,
} from "./client_address.ts";
import type { ErrorDialect, Handler, RequestContext } from "./context.ts";
import { BodyCutShortError, HttpError } from "./errors.ts";
import { type BodyLimits, deferBodyCancel, settleBody } from "./body.ts";
import { json, JSON_CONTENT_TYPE } from "./json.ts";
import { inOneWrite, laterHeaders } from "./one_write.ts";
import { pathnameOf } from "./request_url.ts";

/** The answer to an error, and what to log about it. */
export interface ErrorResponse {
  response: Response;
  /** Written to the log at warn level with the request id, when set. */
  warning?: string;
}

/** Answers an error in a route's dialect; undefined for an error it does not know. */
export type ErrorResponder = (error: unknown, dialect: ErrorDialect) => ErrorResponse | undefined;

/** What the edge reports about every request, for metrics. */
export interface RequestObserver {
  /** A request has arrived. */
  started(): void;
  /** A request has been answered; `route` is the matched pattern or undefined. */
  finished(route: string | undefined, method: string, status: number, seconds: number): void;
}

/** Settings of the request edge. */
export interface EdgeOptions {
  logger: Logger;
  /** The answers of errors, the HTTP layer's own included. */
  respond: ErrorResponder;
  /** Finds the client's address; the TCP peer's when absent. */
  clientAddress?: (req: Request, peer: string) => ClientAddress;
  /**
   * Bounds for reading what handlers left of a request body before answering (see
   * {@linkcode settleBody}); by default 16 KiB and 1 s, within every configuration.
   */
  bodyLimits?: BodyLimits;
  /** Told of every request, when metrics are on. */
  observer?: RequestObserver;
  /**
   * Whether the listener is closing: a request body cut short is then the server's doing, and
   * answered 503 with `Retry-After` so that the client sends it again elsewhere.
   */
  closing?: () => boolean;
}

/** The function `Deno.serve` calls: a promise only when the answer has to be waited for. */
export type ServeHandler = (
  req: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** The body size limit and the shortest `BODY_TIMEOUT` the configuration accepts. */
const DEFAULT_BODY_LIMITS: BodyLimits = { maxBytes: 16 * 1024, timeoutMs: 1000 };

const SECURITY_HEADERS: Record<string, string> = {
  "strict-transport-security": "max-age=63072000",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
};

const CSP = "content-security-policy";

/** What {@linkcode secured} adds to an answer, as {@linkcode inOneWrite} counts it. */
const SECURED_HEADERS = laterHeaders(
  Object.fromEntries(
    [["x-request-id", crypto.randomUUID()], ...Object.entries(SECURITY_HEADERS)]
      .filter(([name]) => name !== CSP),
  ),
  {
    [CSP]: SECURITY_HEADERS[CSP],
    "content-type": JSON_CONTENT_TYPE,
    "cache-control": "no-store",
  },
);

/**
 * Wraps the router with what every request gets: the client's address, a request id, errors
 * answered in the route's dialect (a 500 logs its stack and never sends it), security headers
 * and an access log line. Header size is bounded by Deno's HTTP layer, which refuses oversized
 * header blocks before they reach this code. What handlers leave of a request body is read before
 * the answer goes out, so HTTP/2 clients get it.
 */
export function createEdge(dispatch: Handler, options: EdgeOptions): ServeHandler {
  const { logger, respond, observer, closing, bodyLimits = DEFAULT_BODY_LIMITS } = options;
  const clientAddress = options.clientAddress ??
    createClientAddressResolver(DEFAULT_CLIENT_ADDRESS);
  /** The answer to what dispatch threw. */
  const failed = (error: unknown, ctx: RequestContext): Response => {
    const cutByUs = error instanceof BodyCutShortError && closing?.();
    return errorResponse(cutByUs ? shuttingDown() : error, ctx, { logger, respond });
  };
  /** Observes and logs an answer ready to go out. */
  const finish = (req: Request, res: Response, ctx: RequestContext, started: number) => {
    const elapsedMs = performance.now() - started;
    observer?.finished(ctx.route, req.method, res.status, elapsedMs / 1000);
    if (ctx.accessLog && logger.enabled("info")) {
      logger.log("info", "request", {
        request_id: ctx.requestId,
        method: req.method,
        path: pathnameOf(req.url),
        status: res.status,
        duration_ms: Math.round(elapsedMs * 100) / 100,
        user: ctx.user,
        client: ctx.client,
        remote_address: ctx.remoteAddress,
      });
    }
    return res;
  };
  const later = async (
    req: Request,
    answer: Promise<Response>,
    ctx: RequestContext,
    started: number,
  ): Promise<Response> => {
    let res: Response;
    try {
      res = await answer;
    } catch (error) {
      res = failed(error, ctx);
    }
    // Before the edge's own headers, which are cheaper to count than to read back.
    res = inOneWrite(res, SECURED_HEADERS);
    if (req.method === "HEAD" && res.body) res = await withoutBody(res);
    res = secured(res, ctx.requestId);
    if (req.body) res = await settleBody(req, res, bodyLimits);
    return finish(req, res, ctx, started);
  };
  return function edge(req, info) {
    const started = performance.now();
    observer?.started();
    const body = req.body;
    if (body) deferBodyCancel(body);
    const client = clientAddress(req, (info.remoteAddr as Deno.NetAddr).hostname ?? "");
    const ctx: RequestContext = {
      requestId: crypto.randomUUID(),
      remoteAddress: client.address,
      addressGroup: client.group,
      params: {},
      errorDialect: "flask",
      accessLog: true,
    };
    let answer: Response | Promise<Response>;
    try {
      answer = dispatch(req, ctx);
    } catch (error) {
      answer = failed(error, ctx);
    }
    // An answer given at once with nothing left to wait for (no request body to read, no HEAD
    // body to drop), as /hello's is for a token seen before, goes out in this turn: a promise
    // here would cost Deno.serve another turn of the event loop on every request.
    if (answer instanceof Response && !body && !(req.method === "HEAD" && answer.body)) {
      const res = secured(inOneWrite(answer, SECURED_HEADERS), ctx.requestId);
      return finish(req, res, ctx, started);
    }
    return later(req, Promise.resolve(answer), ctx, started);
  };
}

/**
 * `Deno.serve`'s `onError`, reached only if the edge itself fails: the error is logged and the
 * answer keeps the one JSON error shape.
 */
export function createServeErrorHandler(logger: Logger): (error: unknown) => Response {
  return function serveError(error) {
    logger.log("error", "Unhandled error outside the edge", { error: describe(error) });
    return json({ msg: "Internal server error" }, { status: 500 });
  };
}

/**
 * The answer to a HEAD request without its body: over HTTP/2 Deno would send it, which clients
 * reject.
 */
async function withoutBody(res: Response): Promise<Response> {
  await res.body?.cancel();
  return new Response(null, { status: res.status, headers: res.headers });
}

/** Adds the request id and the security headers. Responses with immutable headers are copied. */
function secured(res: Response, requestId: string): Response {
  let headers = res.headers;
  try {
    headers.set("x-request-id", requestId);
  } catch {
    res = new Response(res.body, { status: res.status, headers: new Headers(res.headers) });
    headers = res.headers;
    headers.set("x-request-id", requestId);
  }
  for (const name in SECURITY_HEADERS) {
    // A page brings its own policy, as strict but allowing its stylesheet and forms.
    if (name !== CSP || !headers.has(CSP)) headers.set(name, SECURITY_HEADERS[name]);
  }
  if (!headers.has("content-type")) headers.set("content-type", JSON_CONTENT_TYPE);
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  return res;
}

/** The answer to a request whose body the closing listener cut off. */
function shuttingDown(): HttpError {
  return new HttpError(503, "Service is shutting down; try again", {
    headers: { "retry-after": "1" },
  });
}

function errorResponse(
  error: unknown,
  ctx: RequestContext,
  { logger, respond }: EdgeOptions,
): Response {
  const answer = respond(error, ctx.errorDialect);
  if (!answer) {
    logger.log("error", "Unhandled error", { request_id: ctx.requestId, error: describe(error) });
    return json({ msg: "Internal server error", request_id: ctx.requestId }, { status: 500 });
  }
  if (answer.warning) {
    const reason = error instanceof Error ? error.message : String(error);
    logger.log("warn", answer.warning, { request_id: ctx.requestId, error: reason });
  }
  return answer.response;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.stack ?? error.message : String(error);
}
