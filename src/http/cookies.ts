/**
 * @module
 * Reading one cookie from a `Cookie` header (RFC 6265 §4.2) and writing a `Set-Cookie` value
 * with the attributes this service always wants.
 */

/** The value of cookie `name` in a `Cookie` header, or undefined (the first one wins). */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
    const value = pair.slice(equals + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
      ? value.slice(1, -1)
      : value;
  }
  return undefined;
}

/**
 * A `Set-Cookie` value for the whole site that scripts cannot read, sent only over HTTPS and
 * never with cross-site requests; with the `__Host-` prefix the browser also refuses it from
 * any other host.
 */
export function strictCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=Strict`;
}
