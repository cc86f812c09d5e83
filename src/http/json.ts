/** The content type of every response this service sends. */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** Builds a JSON response. */
export function json(
  body: unknown,
  init: { status?: number; headers?: HeadersInit } = {},
): Response {
  const headers = new Headers(init.headers);
  headers.set("content-type", JSON_CONTENT_TYPE);
  return new Response(JSON.stringify(body), { status: init.status ?? 200, headers });
}
