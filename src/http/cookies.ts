/**
 * @module
 * Reading a cookie off a request and writing the browser-session cookie: always `__Host-`
 * prefixed, `Secure`, `HttpOnly`, `SameSite=Lax` and `Path=/` (RFC 6265bis), so no other site or
 * subdomain can set or read it and no script can touch it.
 */

/** Name of the cookie that names a browser's session. */
export const SESSION_COOKIE = "__Host-auth-session";

/** The value of a cookie the request carries; undefined when absent. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.get("cookie");
  if (header === null) return undefined;
  // HTTP/2 may send several cookie headers, which the Headers class joins with ", ".
  for (const pair of header.split(/[;,] */)) {
    const equals = pair.indexOf("=");
    if (equals !== -1 && pair.slice(0, equals).trim() === name) {
      return pair.slice(equals + 1).trim();
    }
  }
  return undefined;
}

/** A `Set-Cookie` value for the session cookie, living as long as the browser session. */
export function sessionCookie(value: string): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/** A `Set-Cookie` value that deletes the session cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`;
}
