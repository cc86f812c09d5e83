/**
 * @module
 * The openid-client example of src/auth/sign_in/README.md, which shows it from the import on:
 * an app signs its users in with the authorization code flow, PKCE and a nonce, reads their
 * profile, refreshes, and signs them out. It lives here so that `deno check` type-checks it and
 * tests/openid_client_example_test.ts runs it against the real server; it is not used otherwise.
 */
import * as client from "openid-client";

/**
 * Discovers the server as the public client `clientId`. `http` is the fetch client that trusts
 * the server's certificate: `Deno.createHttpClient({ caCerts: [pem] })` with certs/cert.pem in
 * development (never turn verification off).
 */
export async function discover(
  issuer: URL,
  clientId: string,
  http: Deno.HttpClient,
): Promise<client.Configuration> {
  return await client.discovery(
    issuer,
    clientId,
    undefined,
    client.None(), // a confidential client: client.ClientSecretBasic(secret)
    // discovery's 5th argument: every request openid-client makes goes through this fetch
    {
      [client.customFetch]: (url, init) =>
        fetch(url, { ...init, body: init.body as BodyInit | undefined, client: http }),
    },
  );
}

/** A token answer, with `claims()` to read the validated ID token. */
export type Tokens = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

/** What the app keeps, in its own session, while the browser is away signing in. */
export interface PendingSignIn {
  codeVerifier: string;
  state: string;
  nonce: string;
}

/** Where to send the browser, and what to keep until it comes back to `redirectUri`. */
export async function startSignIn(
  config: client.Configuration,
  redirectUri: string,
): Promise<{ url: URL; pending: PendingSignIn }> {
  const pending = {
    codeVerifier: client.randomPKCECodeVerifier(),
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: "S256",
    state: pending.state,
    nonce: pending.nonce,
  });
  return { url, pending };
}

/** When the browser comes back to the redirect URI (`callbackUrl`): the tokens and the profile. */
export async function finishSignIn(
  config: client.Configuration,
  callbackUrl: URL,
  pending: PendingSignIn,
): Promise<{ tokens: Tokens; profile: client.UserInfoResponse }> {
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: pending.codeVerifier,
    expectedState: pending.state,
    expectedNonce: pending.nonce,
    idTokenExpected: true,
  });
  const { sub } = tokens.claims()!; // validated: signature, iss, aud, exp, nonce
  const profile = await client.fetchUserInfo(config, tokens.access_token, sub);
  return { tokens, profile };
}

/** A new access token and refresh token for the refresh token of `tokens`. */
export async function refresh(
  config: client.Configuration,
  tokens: Tokens,
): Promise<Tokens> {
  return await client.refreshTokenGrant(config, tokens.refresh_token!);
}

/** Where to send the browser to sign out of every app, and back to `postLogoutRedirectUri`. */
export function signOutUrl(
  config: client.Configuration,
  tokens: Tokens,
  postLogoutRedirectUri: string,
): URL {
  return client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token!,
    post_logout_redirect_uri: postLogoutRedirectUri,
  });
}
