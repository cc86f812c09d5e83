/**
 * @module
 * The route table: URLPattern pathnames to per-method handlers, with 404, 405 + `Allow`, HEAD and
 * OPTIONS. It matches and dispatches; it knows no route of the app.
 */
import type { ErrorDialect, Handler, RequestContext } from "./http/context.ts";
import { HttpError } from "./http/errors.ts";
import { empty } from "./http/json.ts";
import { pathnameOf } from "./http/request_url.ts";

/** One path and the handlers for its methods. */
export interface Route {
  pattern: URLPattern;
  methods: Partial<Record<string, Handler>>;
  /** How the errors its handlers throw are worded, and its 405 unless a page; never the 404. */
  errors: ErrorDialect;
  /** Whether its requests are written to the access log. */
  accessLog: boolean;
}

/** Options of a route. */
export interface RouteOptions {
  /** How the errors its handlers throw are worded; `flask` when absent. */
  errors?: ErrorDialect;
  /** False for routes polled by machines (health checks), which would flood the access log. */
  accessLog?: boolean;
}

/**
 * Declares a route for a pathname pattern such as `/login` or `/users/:name`; `errors` says how
 * its errors are worded.
 */
export function route(
  pathname: string,
  methods: Route["methods"],
  options: RouteOptions = {},
): Route {
  return {
    pattern: new URLPattern({ pathname }),
    methods,
    errors: options.errors ?? "flask",
    accessLog: options.accessLog ?? true,
  };
}

interface CompiledRoute extends Route {
  allow: string;
}

/** Pathname patterns without URLPattern syntax match only themselves. */
const PATTERN_SYNTAX = /[:*(){}?+\\]/;

/**
 * Dispatches requests over a route table: 404 for unknown paths, 405 with `Allow` for a known
 * path and a wrong method, HEAD served by GET (the edge drops the body), OPTIONS answered with `Allow`.
 * Literal paths are found by a map lookup; only the others run their URLPattern.
 *
 * @example
 * ```ts
 * const dispatch = createRouter([route("/hello", { GET: () => json({ message: "hi" }) })]);
 * ```
 */
export function createRouter(routes: Route[]): Handler {
  const literal = new Map<string, CompiledRoute>();
  const patterned: CompiledRoute[] = [];
  for (const entry of routes) {
    const compiled = { ...entry, allow: allowedMethods(entry.methods) };
    const { pathname } = entry.pattern;
    if (!PATTERN_SYNTAX.test(pathname) && !literal.has(pathname)) literal.set(pathname, compiled);
    else patterned.push(compiled);
  }
  // Not async: a handler that answers at once is passed on as it is, for the edge to finish in
  // the same turn; a refusal is still a rejected promise.
  return function dispatch(req, ctx) {
    try {
      return route(req, ctx);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  function route(req: Request, ctx: RequestContext): Response | Promise<Response> {
    const pathname = pathnameOf(req.url);
    let found = literal.get(pathname);
    if (!found) {
      for (const candidate of patterned) {
        const match = candidate.pattern.exec({ pathname });
        if (!match) continue;
        ctx.params = match.pathname.groups;
        found = candidate;
        break;
      }
    }
    if (!found) throw new HttpError(404, "Not found");
    const { methods, allow } = found;
    ctx.route = found.pattern.pathname;
    ctx.accessLog = found.accessLog;
    const handler = methods[req.method] ?? (req.method === "HEAD" ? methods.GET : undefined);
    // The route's dialect words what its handlers throw, and its 405 unless it is a page route:
    // a 405 is a client's mistake, never a person's, so it stays JSON there.
    if (handler || found.errors !== "page") ctx.errorDialect = found.errors;
    if (handler) return handler(req, ctx);
    if (req.method === "OPTIONS") return empty(204, { allow });
    throw new HttpError(405, "Method not allowed", { headers: { allow } });
  }
}

function allowedMethods(methods: Route["methods"]): string {
  const names = new Set(Object.keys(methods));
  if (names.has("GET")) names.add("HEAD");
  names.add("OPTIONS");
  return [...names].join(", ");
}
