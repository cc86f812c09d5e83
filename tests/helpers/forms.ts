/**
 * @module
 * Form posts to the service, as OAuth clients make them: the body form-encoded, HTTP Basic
 * client authentication when asked. It imports nothing of the service, so that the benchmarks'
 * proof makers can use it without the test server's set-up.
 */

/** Where requests go: the service's base URL and an HTTP client that trusts its certificate. */
export interface FormTarget {
  url: string;
  client: Deno.HttpClient;
}

/** The `Authorization` header value of a client's HTTP Basic authentication. */
export function basicAuthorization(client: { id: string; secret: string }): string {
  return `Basic ${btoa(`${client.id}:${client.secret}`)}`;
}

/** POSTs `params` as a form to `path` and returns the response with its parsed JSON body. */
export async function postForm(
  server: FormTarget,
  path: string,
  params: Record<string, string> | string[][],
  headers: HeadersInit = {},
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    client: server.client,
    headers,
    body: new URLSearchParams(params),
  });
  return { res, body: await res.json() };
}
