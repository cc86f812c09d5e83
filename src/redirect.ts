/**
 * @module
 * The plain-HTTP listener's one answer: a 308 to the same path over HTTPS.
 */
import { json } from "./http/json.ts";

/**
 * The plain-HTTP handler: every request is answered with a 308 to the same path over HTTPS, and
 * nothing is served in clear text. The target is the public URL when one is configured, else the
 * requested host on the HTTPS port.
 */
export function createRedirectHandler(
  httpsPort: number,
  publicUrl?: string,
): (req: Request) => Response {
  return function redirect(req) {
    const requested = new URL(req.url);
    const url = new URL(requested.pathname + requested.search, publicUrl ?? requested);
    if (!publicUrl) {
      url.protocol = "https:";
      url.port = httpsPort === 443 ? "" : String(httpsPort);
    }
    return json({ msg: "Use HTTPS", location: url.href }, {
      status: 308,
      headers: { location: url.href, "cache-control": "no-store" },
    });
  };
}
