/** The content type of every response this service sends. */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** Builds a JSON response. */
export function json(
  body: unknown,
  init: { status?: number; headers?: Record<string, string> } = {},
): Response {
  const res = new Response(JSON.stringify(body), { status: init.status ?? 200 });
  // Setting headers on the built response is several times cheaper in Deno than passing them
  // in the init dictionary, and this runs on every request.
  const headers = res.headers;
  headers.set("content-type", JSON_CONTENT_TYPE);
  for (const name in init.headers) headers.set(name, init.headers[name]);
  return res;
}
