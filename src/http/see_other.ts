/**
 * @module
 * The redirect that follows a posted form or sends a browser on: `303 See Other`, never cached.
 * It knows nothing of where the browser is sent.
 */

/** A 303 redirect (RFC 9700 §4.11: never 307 after a form with a password). */
export function seeOther(location: string): Response {
  const res = new Response(null, { status: 303 });
  res.headers.set("location", location);
  res.headers.set("cache-control", "no-store");
  return res;
}
