/**
 * @module
 * Request parameters as the domain receives them: each one's value as the HTTP layer read it,
 * and the names sent more than once. The one rule of RFC 6749 §3.1 for reading one of them:
 * absent and empty are the same, and a repeated one is refused, with the error the caller names.
 */
import { type AuthErrorCode, AuthFailure } from "./errors.ts";

/** A request's parameters: each one's value (possibly empty), and those sent more than once. */
export interface RequestParameters {
  /** The value of each parameter sent exactly once, as sent. */
  readonly values: ReadonlyMap<string, string>;
  /** The names of parameters sent more than once. */
  readonly repeated: readonly string[];
}

/**
 * The value of parameter `name`: undefined when it is absent or empty; an AuthFailure `code`
 * (`invalid_request` unless said) when it was sent more than once.
 *
 * @example
 * ```ts
 * const grantType = singleParameter(params, "grant_type");
 * ```
 */
export function singleParameter(
  params: RequestParameters,
  name: string,
  code: AuthErrorCode = "invalid_request",
): string | undefined {
  if (params.repeated.includes(name)) {
    throw new AuthFailure(code, `Parameter "${name}" is repeated`);
  }
  return params.values.get(name) || undefined;
}

/** Whether parameter `name` was sent at all, even empty or more than once. */
export function hasParameter(params: RequestParameters, name: string): boolean {
  return params.values.has(name) || params.repeated.includes(name);
}
