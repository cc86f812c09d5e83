/**
 * @module
 * Interoperability with software written elsewhere: the oauth4webapi client, jose's local JWKS
 * verification fed only by our discovery documents, and Python's PyJWT (Debian's python3-jwt).
 */
import assert from "node:assert/strict";
import { createLocalJWKSet, decodeJwt, errors, type JSONWebKeySet, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { testNeeding } from "./helpers/prerequisites.ts";
import { PYJWT, tampered, verifyWithPyJwt } from "./helpers/pyjwt.ts";
import {
  hello,
  loginToken,
  startTestServer,
  subjectOf,
  type TestServer,
} from "./helpers/server.ts";

const USERS = { user1: "password1" };
const RS_SECRET = "resource-server-secret-0123456789abcdef";

type Json = Record<string, unknown>;

/** oauth4webapi's HTTP through Deno's fetch with a client that trusts only the test CA. */
function httpOptions(server: TestServer) {
  return {
    [oauth.customFetch]: (url: string, init: oauth.CustomFetchOptions<string, unknown>) =>
      fetch(url, { ...init, body: init.body as BodyInit | undefined, client: server.client }),
  };
}

async function discover(server: TestServer): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(server.url);
  const res = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...httpOptions(server) });
  return await oauth.processDiscoveryResponse(issuer, res);
}

async function getJson(server: TestServer, url: string): Promise<Json> {
  const res = await fetch(url, { client: server.client });
  assert.equal(res.status, 200);
  return await res.json();
}

Deno.test("oauth4webapi keeps TLS verification: discovery without the test CA is refused", async () => {
  await using server = await startTestServer();
  await assert.rejects(
    oauth.discoveryRequest(new URL(server.url), { algorithm: "oauth2" }),
    (error: Error) =>
      /certificate|UnknownIssuer|tls|invalid peer/i.test(String(error.cause ?? error)),
  );
});

Deno.test("oauth4webapi discovers the server, runs the password and refresh grants, revokes, and /hello refuses the revoked token", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { OAUTH_CLIENTS: `rs:${RS_SECRET}`, OAUTH_INTROSPECTORS: "rs" },
  });
  const options = httpOptions(server);
  const as = await discover(server);
  assert.equal(as.issuer, server.url);
  assert.equal(as.token_endpoint, `${server.url}/oauth/token`);

  const client: oauth.Client = { client_id: "oauth4webapi-cli" };
  const none = oauth.None();
  const granted = await oauth.processGenericTokenEndpointResponse(
    as,
    client,
    await oauth.genericTokenEndpointRequest(as, client, none, "password", {
      username: "user1",
      password: "password1",
      scope: "hello",
    }, options),
  );
  assert.equal(granted.token_type, "bearer");
  assert.equal(granted.scope, "hello");
  assert.equal(typeof granted.expires_in, "number");
  assert.equal(typeof granted.refresh_token, "string");
  assert.equal(decodeJwt(granted.access_token).client_id, "oauth4webapi-cli");

  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, none, granted.refresh_token!, options),
  );
  assert.notEqual(refreshed.refresh_token, granted.refresh_token);
  assert.equal((await hello(server, `Bearer ${refreshed.access_token}`)).res.status, 200);

  // oauth4webapi as a resource server: RFC 9068 validation with keys from our jwks_uri.
  const request = new Request(`${server.url}/hello`, {
    headers: { authorization: `Bearer ${refreshed.access_token}` },
  });
  const claims = await oauth.validateJwtAccessToken(as, request, as.issuer, options);
  assert.equal(claims.sub, await subjectOf(server, "user1"));
  assert.equal(claims.preferred_username, "user1");
  assert.equal(claims.client_id, "oauth4webapi-cli");

  const rs: oauth.Client = { client_id: "rs" };
  const introspected = await oauth.processIntrospectionResponse(
    as,
    rs,
    await oauth.introspectionRequest(
      as,
      rs,
      oauth.ClientSecretBasic(RS_SECRET),
      refreshed.access_token,
      options,
    ),
  );
  assert.equal(introspected.active, true);
  assert.equal(introspected.sub, await subjectOf(server, "user1"));
  assert.equal(introspected.username, "user1");

  const revocation = await oauth.revocationRequest(
    as,
    client,
    none,
    refreshed.refresh_token!,
    options,
  );
  await oauth.processRevocationResponse(revocation);
  if (!revocation.bodyUsed) await revocation.body?.cancel();

  const refused = await hello(server, `Bearer ${refreshed.access_token}`);
  assert.equal(refused.res.status, 401);
  assert.deepEqual(refused.body, { msg: "Token has been revoked" });
  await assert.rejects(
    async () =>
      await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, none, refreshed.refresh_token!, options),
      ),
    (error) => error instanceof oauth.ResponseBodyError && error.error === "invalid_grant",
  );
});

Deno.test("oauth4webapi reads the server's RFC 6749 §5.2 errors: a wrong password is invalid_grant", async () => {
  await using server = await startTestServer({ users: USERS });
  const options = httpOptions(server);
  const as = await discover(server);
  const client: oauth.Client = { client_id: "oauth4webapi-cli" };
  const res = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), "password", {
    username: "user1",
    password: "wrong",
  }, options);
  await assert.rejects(
    oauth.processGenericTokenEndpointResponse(as, client, res),
    (error) =>
      error instanceof oauth.ResponseBodyError && error.error === "invalid_grant" &&
      error.status === 400,
  );
});

Deno.test("jose's createLocalJWKSet fed only the JSON from the metadata's jwks_uri verifies an access token", async () => {
  await using server = await startTestServer({ users: USERS });
  const metadata = await getJson(server, `${server.url}/.well-known/oauth-authorization-server`);
  const jwks = await getJson(server, metadata.jwks_uri as string);
  const keySet = createLocalJWKSet(jwks as unknown as JSONWebKeySet);
  const token = await loginToken(server);
  const issuer = metadata.issuer as string;
  // The audience defaults to the public URL, which is also the issuer.
  const verifyOptions = { issuer, audience: issuer, algorithms: ["ES256"], typ: "at+jwt" };

  const { payload, protectedHeader } = await jwtVerify(token, keySet, verifyOptions);
  assert.equal(payload.sub, await subjectOf(server, "user1"));
  assert.equal(protectedHeader.alg, "ES256");
  await assert.rejects(
    jwtVerify(tampered(token), keySet, verifyOptions),
    errors.JWSSignatureVerificationFailed,
  );
});

testNeeding(
  [PYJWT],
  "Python's PyJWT (Debian python3-jwt) verifies an access token with the key from our JWKS and rejects a tampered one",
  async () => {
    await using server = await startTestServer({ users: USERS });
    const token = await loginToken(server);
    const check = {
      metadataPath: "/.well-known/oauth-authorization-server",
      audience: server.running.tokens.options.audience,
      algorithmsField: "access_token_signing_alg_values_supported",
    } as const;

    const good = await verifyWithPyJwt(server, token, check);
    assert.equal(good.stderr, "");
    assert.equal(good.stdout, `${await subjectOf(server, "user1")}\n`);
    assert.equal(good.code, 0);

    const bad = await verifyWithPyJwt(server, tampered(token), check);
    assert.equal(bad.stdout, "InvalidSignatureError\n", bad.stderr);
    assert.equal(bad.code, 1);
  },
);
