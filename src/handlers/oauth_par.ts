/**
 * @module
 * `POST /oauth/par`: the pushed authorization request endpoint (RFC 9126).
 */
import type { ClientRegistry } from "../auth/clients/registry.ts";
import type { PushedRequests } from "../auth/sign_in/pushed_requests.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readParameters } from "../http/form.ts";
import { json } from "../http/json.ts";
import { authenticateClient, sourceOf } from "./_authenticate.ts";

/** What the pushed authorization request endpoint needs. */
export interface OAuthParDeps {
  pushed: PushedRequests;
  clients: ClientRegistry;
  bodyLimits: BodyLimits;
}

/**
 * `POST /oauth/par` (RFC 9126 §2): a form-encoded authorization request from a client that
 * authenticates as at the token endpoint (public clients name themselves), checked as
 * `/authorize` checks one; 201 with its `request_uri` and `expires_in`, or a JSON OAuth error.
 * Public clients' pushes count against the client address (group).
 */
export function createOAuthParHandler({ pushed, clients, bodyLimits }: OAuthParDeps): Handler {
  return async function par(req, ctx) {
    const params = readParameters(await readFormBody(req, bodyLimits));
    const answer = await pushed.push(params, {
      identify: () => authenticateClient(req, ctx, { params, clients }),
      ...sourceOf(ctx),
    });
    return json({ request_uri: answer.requestUri, expires_in: answer.expiresIn }, {
      status: 201,
      headers: { "cache-control": "no-store" },
    });
  };
}
