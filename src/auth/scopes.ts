/**
 * @module
 * Scopes (RFC 6749 §3.3): which the service knows (the configured ones, and OpenID Connect's for
 * the sign-in flow), which a request may be granted, and whether a token carries the one a
 * resource needs.
 */
import { AuthFailure } from "./errors.ts";

/** The scopes this service knows and the one granted when a client asks for none. */
export interface ScopePolicy {
  supported: readonly string[];
  defaultScope: string;
}

/** The scope `GET /hello` requires, and the only scope the service knows by default. */
export const HELLO_SCOPE = "hello";
/** The scope that makes a request an OpenID Connect one. */
export const OPENID_SCOPE = "openid";
/** The scope that adds `preferred_username` to `/userinfo`. */
export const PROFILE_SCOPE = "profile";

/** One scope token: printable ASCII without space, `"` or `\` (RFC 6749 §3.3). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Splits a space-separated scope string (RFC 6749 §3.3) into its distinct tokens. */
export function scopeTokens(scope: string): string[] {
  return [...new Set(scope.split(" ").filter((token) => token !== ""))];
}

/**
 * Throws `insufficient_scope` (RFC 6750 §3.1) unless the granted scope string includes
 * `required`; checked on every protected request, so without building a set.
 */
export function requireScope(granted: string | undefined, required: string): void {
  if (granted !== undefined && granted.split(" ").includes(required)) return;
  throw new AuthFailure("insufficient_scope", "Token lacks the required scope", {
    scope: required,
  });
}

/** What bounds a grant's scope besides the policy. */
export interface ScopeLimits {
  /** The scope a client registered in the store was registered with; nothing beyond it. */
  registered?: string;
  /**
   * The scope granted before, when a grant narrows an earlier one (a refresh): nothing beyond
   * it, and all of it when none is asked for.
   */
  earlier?: string;
  /** Scopes this grant never gives, such as a user's to a client acting for itself. */
  excluded?: readonly string[];
}

/**
 * The one scope decision of every grant: the requested scopes when each is supported and within
 * `limits`, else `invalid_scope` (RFC 6749 §3.3 lets a server refuse rather than grant less).
 * A request naming no scope gets all of an earlier grant, or else the default scope narrowed to
 * the limits, and `invalid_scope` when nothing of it is left. An earlier grant only keeps the
 * scopes still supported, so a scope removed from the configuration is never granted again.
 *
 * @example
 * ```ts
 * grantScope(undefined, policy, { registered: "hello" }); // "hello"
 * grantScope("openid", policy, { registered: "hello" }); // throws invalid_scope
 * ```
 */
export function grantScope(
  requested: string | undefined,
  policy: ScopePolicy,
  limits: ScopeLimits = {},
): string {
  const { registered, earlier, excluded = [] } = limits;
  const registration = registered === undefined ? undefined : scopeTokens(registered);
  // An earlier grant keeps its own order.
  const allowed = (earlier === undefined ? policy.supported : scopeTokens(earlier)).filter(
    (token) =>
      policy.supported.includes(token) && !excluded.includes(token) &&
      (registration?.includes(token) ?? true),
  );
  const toWhom = registered === undefined ? "" : " to this client";
  if (requested === undefined || requested.trim() === "") {
    if (earlier !== undefined) {
      if (allowed.length > 0) return allowed.join(" ");
      throw new AuthFailure("invalid_scope", "None of the granted scopes is available any more");
    }
    const fallback = scopeTokens(policy.defaultScope).filter((token) => allowed.includes(token));
    if (fallback.length > 0) return fallback.join(" ");
    throw new AuthFailure("invalid_scope", `No scope was requested and none is available${toWhom}`);
  }
  const tokens = scopeTokens(requested);
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token) || !allowed.includes(token)) {
      throw new AuthFailure("invalid_scope", `Scope "${token}" is not available${toWhom}`);
    }
  }
  return tokens.join(" ");
}

/**
 * The scope policy of the sign-in flow: the configured scopes plus `openid` and `profile`,
 * which are never granted by default (so `/login` answers as before).
 */
export function withOpenIdScopes(policy: ScopePolicy): ScopePolicy {
  return {
    supported: [...new Set([...policy.supported, OPENID_SCOPE, PROFILE_SCOPE])],
    defaultScope: policy.defaultScope,
  };
}
