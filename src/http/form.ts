/**
 * @module
 * Reading OAuth 2.0 form parameters by the RFC 6749 rules.
 */
import { HttpError } from "./errors.ts";

/**
 * One OAuth 2.0 form parameter: absent and empty are the same, and a repeated parameter is
 * `invalid_request` (RFC 6749 §3.1, §3.2).
 */
export function formParameter(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) {
    throw new HttpError(400, `Parameter "${name}" is repeated`, { code: "invalid_request" });
  }
  return values[0] || undefined;
}
