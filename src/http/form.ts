/**
 * @module
 * Reading the parameters of a query or form by the RFC 6749 §3.1 rule that each is sent at most
 * once: the one place that tells a parameter's value from a repeated one. What a repeat means
 * (an error to show, or to send back to the client) is for the reader to say.
 */

/** A request's parameters: each one's value, and those sent more than once. */
export interface Parameters {
  /** The value of each parameter sent exactly once, as sent (possibly empty). */
  readonly values: ReadonlyMap<string, string>;
  /** The names of parameters sent more than once, which have no value. */
  readonly repeated: readonly string[];
}

/**
 * Reads the parameters of a query string or a form body.
 *
 * @example
 * ```ts
 * readParameters(new URLSearchParams("a=1&b=2&b=3")); // values a → "1", repeated ["b"]
 * ```
 */
export function readParameters(params: URLSearchParams): Parameters {
  const values = new Map<string, string>();
  const repeated: string[] = [];
  for (const [name, value] of params) {
    if (repeated.includes(name)) continue;
    if (values.has(name)) {
      values.delete(name);
      repeated.push(name);
    } else {
      values.set(name, value);
    }
  }
  return { values, repeated };
}
