/**
 * @module
 * Building JSON responses cheaply, on every request.
 */
import { textResponse } from "./one_write.ts";

/** The content type of every response this service sends. */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * Builds a JSON response.
 *
 * @example
 * ```ts
 * json({ msg: "Not found" }, { status: 404 });
 * ```
 */
export function json(
  body: unknown,
  init: { status?: number; headers?: Record<string, string> } = {},
): Response {
  return withHeaders(textResponse(JSON.stringify(body), { status: init.status ?? 200 }), init);
}

/** Builds a response without a body (such as 204), with the same headers as json(). */
export function empty(status: number, headers?: Record<string, string>): Response {
  return withHeaders(new Response(null, { status }), { headers });
}

function withHeaders(res: Response, init: { headers?: Record<string, string> }): Response {
  // Setting headers on the built response is several times cheaper in Deno than passing them
  // in the init dictionary, and this runs on every request.
  const headers = res.headers;
  headers.set("content-type", JSON_CONTENT_TYPE);
  for (const name in init.headers) headers.set(name, init.headers[name]);
  return res;
}
