import type { Handler } from "./http/context.ts";
import { HttpError } from "./http/errors.ts";

/** One path and the handlers for its methods. */
export interface Route {
  pattern: URLPattern;
  methods: Partial<Record<string, Handler>>;
}

/** Declares a route for a pathname pattern such as `/login`. */
export function route(pathname: string, methods: Route["methods"]): Route {
  return { pattern: new URLPattern({ pathname }), methods };
}

/**
 * Dispatches requests over a route table: 404 for unknown paths, 405 with `Allow` for a known
 * path and a wrong method, HEAD served by GET without a body, OPTIONS answered with `Allow`.
 *
 * @example
 * ```ts
 * const dispatch = createRouter([route("/hello", { GET: () => json({ message: "hi" }) })]);
 * ```
 */
export function createRouter(routes: Route[]): Handler {
  const table = routes.map(({ pattern, methods }) => ({
    pattern,
    methods,
    allow: allowedMethods(methods),
  }));
  return async function dispatch(req, ctx) {
    const pathname = new URL(req.url).pathname;
    for (const { pattern, methods, allow } of table) {
      const match = pattern.exec({ pathname });
      if (!match) continue;
      ctx.params = match.pathname.groups;
      const handler = methods[req.method];
      if (handler) return await handler(req, ctx);
      if (req.method === "HEAD" && methods.GET) return withoutBody(await methods.GET(req, ctx));
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: { allow } });
      throw new HttpError(405, "Method not allowed", { headers: { allow } });
    }
    throw new HttpError(404, "Not found");
  };
}

function allowedMethods(methods: Route["methods"]): string {
  const names = new Set(Object.keys(methods));
  if (names.has("GET")) names.add("HEAD");
  names.add("OPTIONS");
  return [...names].join(", ");
}

function withoutBody(res: Response): Response {
  res.body?.cancel();
  return new Response(null, { status: res.status, headers: res.headers });
}
