/**
 * Pushed authorization requests (RFC 9126) made by hand, for tests: pushing a request to
 * `/oauth/par` as a client would, and the `/authorize` URL that then names it.
 *
 * @module
 */
import { basicHeaders, type Reachable, type TestClient } from "./oidc.ts";
import { postForm } from "./forms.ts";

/** How the client authenticates its push: HTTP Basic, form parameters, or by name only. */
export type PushAuth = "basic" | "post" | "none";

/**
 * Pushes an authorization request for `client` (PKCE S256 with `challenge`, scope `openid
 * profile`, `state` and `nonce`), `params` added or replacing (undefined leaves one out).
 */
export function push(
  server: Reachable,
  client: TestClient,
  options: {
    challenge: string;
    params?: Record<string, string | undefined>;
    auth?: PushAuth;
    secret?: string;
  },
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const auth = options.auth ?? (client.secret === undefined ? "none" : "basic");
  const secret = options.secret ?? client.secret ?? "";
  const all: Record<string, string | undefined> = {
    response_type: "code",
    client_id: auth === "basic" ? undefined : client.clientId,
    ...(auth === "post" && { client_secret: secret }),
    redirect_uri: client.redirectUri,
    scope: "openid profile",
    state: "pushed-state",
    nonce: "pushed-nonce",
    code_challenge: options.challenge,
    code_challenge_method: "S256",
    ...options.params,
  };
  const form = Object.entries(all).filter((entry): entry is [string, string] =>
    entry[1] !== undefined
  );
  const basic = auth === "basic" ? { id: client.clientId, secret } : undefined;
  return postForm(server, "/oauth/par", form, basicHeaders(basic));
}

/** Pushes a request that must be accepted; returns its `request_uri`. */
export async function pushed(
  server: Reachable,
  client: TestClient,
  options: Parameters<typeof push>[2],
): Promise<string> {
  const { res, body } = await push(server, client, options);
  if (res.status !== 201) throw new Error(`Push refused: ${res.status} ${JSON.stringify(body)}`);
  return body.request_uri as string;
}

/** The `/authorize` URL naming a pushed request, with `extra` parameters alongside. */
export function pushedAuthorizeUrl(
  server: { url: string },
  clientId: string,
  requestUri: string,
  extra: Record<string, string> = {},
): string {
  const url = new URL(`${server.url}/authorize`);
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("request_uri", requestUri);
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  return url.href;
}
