/**
 * @module
 * Which redirect URIs a client may register (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §4.1):
 * absolute, without a fragment or user info; `https`, `http` only on a loopback host, or a
 * private-use scheme of a native app. Matching is by exact string, done by the caller.
 */

/** Longest redirect URI accepted. */
const MAX_REDIRECT_URI_LENGTH = 2000;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
/** A private-use scheme names a domain its owner controls, so it has a dot (RFC 8252 §7.1). */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/;

/** Why `uri` cannot be registered as a redirect URI, or undefined when it can. */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > MAX_REDIRECT_URI_LENGTH) {
    return `Redirect URI must be at most ${MAX_REDIRECT_URI_LENGTH} characters`;
  }
  if (!URL.canParse(uri)) return `Redirect URI "${uri}" is not an absolute URI`;
  const url = new URL(uri);
  if (uri.includes("#")) return `Redirect URI "${uri}" must not have a fragment`;
  if (url.username || url.password) return `Redirect URI "${uri}" must not have user info`;
  if (url.protocol === "https:") {
    return url.hostname ? undefined : `Redirect URI "${uri}" names no host`;
  }
  if (url.protocol === "http:") {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : `Redirect URI "${uri}" must use https (http only for localhost, 127.0.0.1 or [::1])`;
  }
  return PRIVATE_USE_SCHEME.test(url.protocol)
    ? undefined
    : `Redirect URI "${uri}" must use https, loopback http or a reverse-domain scheme such as "com.example.app:"`;
}

/**
 * The CSP source that lets a form on our pages end in a redirect to `uri` (browsers check
 * `form-action` along the redirect chain): its origin, or its scheme for a private-use one.
 */
export function formActionSource(uri: string): string {
  const url = new URL(uri);
  return url.protocol === "https:" || url.protocol === "http:" ? url.origin : url.protocol;
}
