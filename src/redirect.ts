import { json } from "./http/json.ts";

/**
 * The plain-HTTP handler: every request is answered with a 308 to the same path over HTTPS, and
 * nothing is served in clear text.
 */
export function createRedirectHandler(httpsPort: number): (req: Request) => Response {
  return function redirect(req) {
    const url = new URL(req.url);
    url.protocol = "https:";
    url.port = httpsPort === 443 ? "" : String(httpsPort);
    return json({ msg: "Use HTTPS", location: url.href }, {
      status: 308,
      headers: { location: url.href, "cache-control": "no-store" },
    });
  };
}
