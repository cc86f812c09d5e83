/**
 * @module
 * Reading one cookie from a `Cookie` header (RFC 6265 §4.2) and writing the `Set-Cookie` values
 * this service sends: always `Secure`, `HttpOnly` and `Path=/`, `__Host-` prefixed where the
 * name says so, so no other site or subdomain can set or read them and no script can touch them.
 */

/** Name of the cookie that names a browser's session. */
export const SESSION_COOKIE = "__Host-auth-session";

/**
 * The value of cookie `name` in a `Cookie` header, or undefined when it is absent or named more
 * than once. Pairs are split on `;` only (RFC 6265 §5.4): a comma belongs to a value, so a cookie
 * tossed from a sibling subdomain or over plain HTTP as `x=a,__Host-auth-session=…` stays inside
 * `x`. Several cookie fields of one HTTP/2 request reach us joined with `; ` (Deno joins them so,
 * as RFC 9113 §8.2.3 asks). A name sent twice is ambiguous (one of them may be tossed, and the
 * order is the browser's), so neither is trusted.
 */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  let found: string | undefined;
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
    if (found !== undefined) return undefined;
    found = pair.slice(equals + 1).trim();
  }
  if (found === undefined) return undefined;
  return found.length >= 2 && found.startsWith('"') && found.endsWith('"')
    ? found.slice(1, -1)
    : found;
}

/**
 * A `Set-Cookie` value for the whole site that scripts cannot read, sent only over HTTPS and
 * never with cross-site requests; with the `__Host-` prefix the browser also refuses it from
 * any other host.
 */
export function strictCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=Strict`;
}

/**
 * A `Set-Cookie` value for the session cookie, living as long as the browser session; `Lax` so
 * that it comes along when a client's link or redirect brings the browser to `/authorize`.
 */
export function sessionCookie(value: string): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/** A `Set-Cookie` value that deletes the session cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`;
}
