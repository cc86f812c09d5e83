/**
 * @module
 * The plain-HTTP listener's only answer: a 308 to the same path over HTTPS. The target's origin
 * is fixed at start (the public URL, else the listener's own host and HTTPS port); a request can
 * choose only the path and query, never the host, whatever its `Host` header or request target
 * (`//host/…`, `/\host`, `http://host/…`) says; a `Host` that is no host gets a 400. Nothing is
 * served in clear text.
 */
import { json } from "./http/json.ts";

/**
 * The plain-HTTP handler. `origin` is where clients reach the HTTPS service, such as
 * `https://auth.example.com` or `https://localhost:8443`.
 *
 * @example
 * ```ts
 * Deno.serve({ port: 8080 }, createRedirectHandler("https://auth.example.com"));
 * ```
 */
export function createRedirectHandler(origin: string): (req: Request) => Response {
  const base = new URL(origin).origin;
  return function redirect(req) {
    let target: URL;
    try {
      target = new URL(req.url);
    } catch {
      // Deno builds the URL from the Host header, which may be no host at all (`Host: a b`);
      // RFC 9112 §3.2 answers such a request 400.
      return json({ msg: "Invalid Host header" }, {
        status: 400,
        headers: { "cache-control": "no-store" },
      });
    }
    // The path of an absolute-form target too; URL paths of http(s) URLs start with one "/",
    // and a path that starts with more stays a path once appended to an origin.
    const { pathname, search } = target;
    const location = `${base}${pathname}${search}`;
    return json({ msg: "Use HTTPS", location }, {
      status: 308,
      headers: { location, "cache-control": "no-store" },
    });
  };
}
