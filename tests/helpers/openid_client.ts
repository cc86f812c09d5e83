/**
 * openid-client 6, a relying-party library nobody here wrote, pointed at a test server:
 * discovery whose every request goes through a fetch that trusts only the test certificate, and
 * a code-flow authorization started as an app starts one (PKCE S256, state and nonce), plain or
 * pushed (RFC 9126). It never turns certificate checks off.
 *
 * @module
 */
import * as client from "openid-client";
import type { Reachable } from "./oidc.ts";

/** openid-client's HTTP through Deno's fetch with the client that trusts the test certificate. */
export function trustingTestCa(server: Reachable): client.DiscoveryRequestOptions {
  return {
    [client.customFetch]: (url, init) =>
      fetch(url, {
        ...init,
        body: init.body as BodyInit | undefined,
        client: server.client,
      } as RequestInit),
  };
}

/** Discovers the server as `clientId`: a public client, or with `secret` by HTTP Basic. */
export function discoverAs(
  server: Reachable,
  clientId: string,
  secret?: string,
): Promise<client.Configuration> {
  return client.discovery(
    new URL(server.url),
    clientId,
    undefined,
    secret === undefined ? client.None() : client.ClientSecretBasic(secret),
    trustingTestCa(server),
  );
}

/** An authorization an app has started: where to send the browser, and what checks the answer. */
export interface StartedAuthorization {
  url: URL;
  verifier: string;
  nonce: string;
  state: string;
}

/**
 * Starts a code-flow authorization to `redirectUri` with scope `openid profile`, PKCE S256, a
 * state and a nonce (`params` added or replacing); with `pushed`, the request is pushed first
 * and the URL names it.
 */
export async function startAuthorization(
  config: client.Configuration,
  redirectUri: string,
  options: { params?: Record<string, string>; pushed?: boolean } = {},
): Promise<StartedAuthorization> {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const parameters = {
    redirect_uri: redirectUri,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    nonce,
    state,
    ...options.params,
  };
  const url = options.pushed
    ? await client.buildAuthorizationUrlWithPAR(config, parameters)
    : client.buildAuthorizationUrl(config, parameters);
  return { url, verifier, nonce, state };
}

/** What openid-client checks of the answer to `started`: its PKCE verifier, nonce and state. */
export function checksOf(started: StartedAuthorization): client.AuthorizationCodeGrantChecks {
  return {
    pkceCodeVerifier: started.verifier,
    expectedNonce: started.nonce,
    expectedState: started.state,
  };
}
