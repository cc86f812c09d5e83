import { OAuthError } from "../http/errors.ts";

/** The scopes this service knows and the one granted when a client asks for none. */
export interface ScopePolicy {
  supported: readonly string[];
  defaultScope: string;
}

/** One scope token: printable ASCII without space, `"` or `\` (RFC 6749 §3.3). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Splits a space-separated scope string (RFC 6749 §3.3) into its distinct tokens. */
export function parseScope(scope: string): string[] {
  return [...new Set(scope.split(" ").filter((token) => token !== ""))];
}

/** Whether a granted scope string includes `required` (checked on every protected request). */
export function hasScope(granted: string | undefined, required: string): boolean {
  return granted !== undefined && granted.split(" ").includes(required);
}

/**
 * The scope to grant for a request: the default when none is asked for, else the requested
 * scopes when each is supported and (when narrowing an earlier grant) was granted before.
 */
export function grantScope(
  requested: string | undefined,
  policy: ScopePolicy,
  ceiling?: string,
): string {
  if (requested === undefined || requested.trim() === "") return ceiling ?? policy.defaultScope;
  const tokens = parseScope(requested);
  const allowed = ceiling === undefined ? policy.supported : parseScope(ceiling);
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token) || !allowed.includes(token)) {
      throw new OAuthError("invalid_scope", `Scope "${token}" is not available`);
    }
  }
  return tokens.join(" ");
}
