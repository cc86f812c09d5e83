/**
 * @module
 * Pushed authorization requests (RFC 9126): a client sends its authorization request straight to
 * the server, authenticated as at the token endpoint, and gets a `request_uri` for it, usable by
 * that client alone, once, within a minute; the browser then carries only `client_id` and the
 * `request_uri`. A pushed request is checked as `/authorize` checks one, when pushed and again
 * when used. It speaks in domain errors and never builds a response.
 */
import { unixNow } from "../../clock.ts";
import type { PushedRequestStore } from "../../store/pushed_requests.ts";
import type { ClientIdentity, RegisteredClient } from "../clients/registry.ts";
import { AuthFailure, invalidClient, tooManyWaiting } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import { hasParameter, type RequestParameters, singleParameter } from "../parameters.ts";
import type { ScopePolicy } from "../scopes.ts";
import { isSecretShaped, randomSecret, sha256Hex } from "../secrets.ts";
import { readAuthorizationRequest, resolveClient } from "./authorization_requests.ts";

/** What every `request_uri` of a pushed request starts with (RFC 9126 §2.2). */
export const REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";
/** How long a pushed request may wait for the browser (RFC 9126 §2.2's example). */
export const PUSHED_REQUEST_TTL_SECONDS = 60;
/**
 * The most unused requests one client address (group) may have pushed without authenticating
 * (for public clients, which anyone may name): each is stored until it is used or expires.
 * Confidential clients, which prove their secret, are not counted.
 */
export const MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS = 50;

/** The answer to a pushed request (RFC 9126 §2.2). */
export interface PushedRequestAnswer {
  requestUri: string;
  expiresIn: number;
}

/** What pushed requests need. */
export interface PushedRequestDeps {
  store: PushedRequestStore;
  /** Scopes, with `openid` and `profile`, as `/authorize` grants them. */
  policy: ScopePolicy;
  /** Where requests pushed, used, expired and refused are reported. */
  events?: SecurityEvents;
}

/** Whether a `request_uri` is one of ours in form (not whether it exists). */
export function isPushedRequestUri(value: string): boolean {
  return value.startsWith(REQUEST_URI_PREFIX);
}

/**
 * Pushed authorization requests: stored when pushed, taken once when used.
 *
 * @example
 * ```ts
 * const { requestUri } = await pushed.push(params, { identify, origin });
 * const params = await pushed.take(client, requestUri, origin); // at /authorize, once
 * ```
 */
export class PushedRequests {
  #deps: PushedRequestDeps;

  constructor(deps: PushedRequestDeps) {
    this.#deps = deps;
  }

  /**
   * Stores an authorization request pushed by the client that `identify` authenticates, after
   * the checks of `/authorize`. Every refusal is an error for the client itself (never a
   * redirect): `invalid_client`, `invalid_request` (also for a `request_uri` inside the request,
   * RFC 9126 §2.1, and an unregistered `redirect_uri`), or the error `/authorize` would send. A
   * public client's push counts against the client address (group) `address`: beyond
   * {@linkcode MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS} unused ones, `too_many_sign_ins`.
   */
  async push(
    params: RequestParameters,
    { identify, origin, address }: {
      identify: () => Promise<ClientIdentity>;
      origin?: Origin;
      address?: string;
    },
  ): Promise<PushedRequestAnswer> {
    const events = this.#deps.events ?? UNRECORDED;
    let clientId: string | undefined;
    try {
      const identity = await identify();
      clientId = identity.clientId;
      const client = pushingClient(identity);
      if (hasParameter(params, "request_uri")) {
        throw new AuthFailure("invalid_request", "A pushed request cannot carry a request_uri");
      }
      const named = singleParameter(params, "client_id");
      if (named !== undefined && named !== client.clientId) {
        throw new AuthFailure("invalid_request", "client_id is not the authenticated client");
      }
      const request = withClientId(params, client.clientId);
      const resolved = await resolveClient(request, { require: () => Promise.resolve(client) });
      readAuthorizationRequest(request, resolved, this.#deps.policy);
      const secret = randomSecret();
      const now = unixNow();
      const counted = !identity.authenticated && address !== undefined;
      const admission = await this.#deps.store.addPushedRequest({
        idHash: await sha256Hex(secret),
        clientId: client.clientId,
        parameters: JSON.stringify({ values: [...request.values], repeated: request.repeated }),
        address: counted ? address : null,
        createdAt: now,
        expiresAt: now + PUSHED_REQUEST_TTL_SECONDS,
        usedAt: null,
      }, counted ? MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS : undefined);
      if (!admission.added) {
        throw tooManyWaiting(
          "Too many pushed requests from your network are waiting to be used; try again later",
          admission.freeAt,
          now,
        );
      }
      events.record({ event: "pushed_request_issued", client: clientId }, origin);
      return { requestUri: REQUEST_URI_PREFIX + secret, expiresIn: PUSHED_REQUEST_TTL_SECONDS };
    } catch (error) {
      if (error instanceof AuthFailure) {
        const reason = error.code;
        events.record({ event: "pushed_request_refused", client: clientId, reason }, origin);
      }
      throw error;
    }
  }

  /**
   * The parameters of an authorization request: those pushed before when `params` names a
   * pushed request by its `request_uri` (used up by {@linkcode PushedRequests.take} for the
   * client `params` names; `unknown_client` when none), else `params` as they are. Only `client_id` and
   * `request_uri` are read then: everything else beside them is ignored (RFC 9126 §4).
   */
  async unpack(
    params: RequestParameters,
    clients: { require(clientId: string): Promise<RegisteredClient> },
    origin?: Origin,
  ): Promise<{ effective: RequestParameters; pushed: boolean }> {
    const requestUri = singleParameter(params, "request_uri", "invalid_request_uri");
    if (requestUri === undefined || !isPushedRequestUri(requestUri)) {
      return { effective: params, pushed: false };
    }
    const clientId = singleParameter(params, "client_id", "unknown_client");
    if (clientId === undefined) {
      throw new AuthFailure("unknown_client", "The request names no client");
    }
    const client = await clients.require(clientId);
    return { effective: await this.take(client, requestUri, origin), pushed: true };
  }

  /**
   * The parameters of the request `client` pushed as `requestUri`, which is used up by this:
   * `invalid_request_uri` when it is not one of that client's (of this registration of it),
   * was used before, or has expired.
   */
  async take(
    client: RegisteredClient,
    requestUri: string,
    origin?: Origin,
  ): Promise<RequestParameters> {
    const events = this.#deps.events ?? UNRECORDED;
    const secret = requestUri.slice(REQUEST_URI_PREFIX.length);
    const taken = isPushedRequestUri(requestUri) && isSecretShaped(secret)
      ? await this.#deps.store.takePushedRequest(
        await sha256Hex(secret),
        client.clientId,
        unixNow(),
      )
      : { outcome: "unknown" as const };
    const about = { client: client.clientId };
    if (taken.outcome === "taken" && taken.record.createdAt >= client.registeredAt) {
      events.record({ event: "pushed_request_used", ...about }, origin);
      const { values, repeated } = JSON.parse(taken.record.parameters);
      return { values: new Map(values), repeated };
    }
    if (taken.outcome === "expired") {
      events.record({ event: "pushed_request_expired", ...about }, origin);
      throw new AuthFailure(
        "invalid_request_uri",
        "This sign-in link has expired; go back to the application and try again",
      );
    }
    // A request of an earlier registration of the same client id is another client's.
    const reason = taken.outcome === "taken" ? "other_client" : taken.outcome;
    events.record({ event: "pushed_request_refused", ...about, reason }, origin);
    throw new AuthFailure(
      "invalid_request_uri",
      "This sign-in link is unknown or was already used; go back to the application and try again",
    );
  }
}

/**
 * The registered client pushing a request: `invalid_client` for a request that names none, and
 * `unauthorized_client` for a client configured without a registration (which has no redirect
 * URIs, so no authorization requests).
 */
function pushingClient(identity: ClientIdentity): RegisteredClient {
  if (identity.registered) return identity.registered;
  if (!identity.authenticated) {
    throw invalidClient("Name the client with client_id or authenticate it");
  }
  throw new AuthFailure(
    "unauthorized_client",
    `Client "${identity.clientId}" is not registered for the authorization code flow`,
  );
}

/** The parameters with `client_id` set to the authenticated client's. */
function withClientId(params: RequestParameters, clientId: string): RequestParameters {
  const values = new Map(params.values);
  values.set("client_id", clientId);
  return { values, repeated: params.repeated.filter((name) => name !== "client_id") };
}
