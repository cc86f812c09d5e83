/**
 * @module
 * What the server publishes about itself over real HTTPS: RFC 8414 metadata at
 * /.well-known/oauth-authorization-server with the tokens' issuer and the configured scopes, and
 * the JWKS: the ES256 public key without private members (with JWT_SECRET no access-token key at
 * all, only the RS256 ID-token key), and the old and the new key after a rotation.
 */
import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { generateSigningKey } from "../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../src/clock.ts";
import {
  accessTokenJwks,
  jwksKids,
  loginToken,
  startTestServer,
  type TestServer,
} from "./helpers/server.ts";
import { waitFor } from "./helpers/wait.ts";

const USERS = { user1: "password1" };
const METADATA_PATH = "/.well-known/oauth-authorization-server";
const JWKS_PATH = "/.well-known/jwks.json";
const JWT_SECRET = "a-shared-secret-of-at-least-32-bytes-0123456789";
const PUBLIC_JWK_MEMBERS = ["alg", "crv", "kid", "kty", "use", "x", "y"];

type Json = Record<string, unknown>;

async function getJson(server: TestServer, path: string): Promise<{ res: Response; body: Json }> {
  const res = await fetch(`${server.url}${path}`, { client: server.client });
  return { res, body: await res.json() };
}

/** Asserts a 200 JSON answer that anyone may cache. */
function assertPublicJson(res: Response): void {
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  const cacheControl = res.headers.get("cache-control") ?? "";
  assert.match(cacheControl, /\bpublic\b/);
  assert.match(cacheControl, /\bmax-age=[1-9]\d*\b/);
  assert.doesNotMatch(cacheControl, /no-store|private/);
}

Deno.test("GET /.well-known/oauth-authorization-server describes the server per RFC 8414, with the tokens' issuer", async () => {
  await using server = await startTestServer({ users: USERS });
  const { res, body } = await getJson(server, METADATA_PATH);
  assertPublicJson(res);

  assert.equal(body.issuer, decodeJwt(await loginToken(server)).iss);
  assert.equal(body.issuer, server.url);
  assert.equal(body.token_endpoint, `${server.url}/oauth/token`);
  assert.equal(body.revocation_endpoint, `${server.url}/oauth/revoke`);
  assert.equal(body.introspection_endpoint, `${server.url}/oauth/introspect`);
  assert.equal(body.jwks_uri, `${server.url}${JWKS_PATH}`);
  for (
    const name of ["token_endpoint", "revocation_endpoint", "introspection_endpoint", "jwks_uri"]
  ) {
    const url = new URL(body[name] as string);
    assert.equal(url.protocol, "https:", name);
    assert.equal(url.origin, new URL(server.url).origin, name);
  }
  assert.deepEqual(body.grant_types_supported, [
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
  ]);
  assert.equal(body.device_authorization_endpoint, `${server.url}/oauth/device_authorization`);
  assert.deepEqual(body.scopes_supported, ["hello", "openid", "profile"]);
  const methods = body.token_endpoint_auth_methods_supported as string[];
  for (const method of ["none", "client_secret_basic", "client_secret_post"]) {
    assert.ok(methods.includes(method), method);
  }
  assert.deepEqual(body.access_token_signing_alg_values_supported, ["ES256"]);
});

Deno.test("the metadata lists the configured OAUTH_SCOPES", async () => {
  await using server = await startTestServer({ env: { OAUTH_SCOPES: "hello other" } });
  const { body } = await getJson(server, METADATA_PATH);
  assert.deepEqual(body.scopes_supported, ["hello", "other", "openid", "profile"]);
});

Deno.test("GET /.well-known/jwks.json lists the ES256 public key (kid, alg, use sig, kty EC) without private members", async () => {
  await using server = await startTestServer({ users: USERS });
  const { res } = await getJson(server, JWKS_PATH);
  assertPublicJson(res);
  const keys = await accessTokenJwks(server);
  assert.equal(keys.length, 1);
  const [key] = keys;
  assert.equal(key.kty, "EC");
  assert.equal(key.crv, "P-256");
  assert.equal(key.alg, "ES256");
  assert.equal(key.use, "sig");
  assert.equal(key.d, undefined);
  assert.deepEqual(Object.keys(key).sort(), PUBLIC_JWK_MEMBERS);
  assert.equal(key.kid, decodeProtectedHeader(await loginToken(server)).kid);
});

Deno.test("with JWT_SECRET (HS256) the JWKS publishes no access-token key, only the RS256 ID-token key", async () => {
  await using server = await startTestServer({ users: USERS, env: { JWT_SECRET } });
  const metadata = await getJson(server, METADATA_PATH);
  assert.equal(metadata.res.status, 200);
  assert.equal(metadata.body.jwks_uri, `${server.url}${JWKS_PATH}`, "OpenID Connect needs it");
  assert.deepEqual(metadata.body.access_token_signing_alg_values_supported, ["HS256"]);
  assert.deepEqual(metadata.body.id_token_signing_alg_values_supported, ["RS256"]);
  assert.equal(metadata.body.issuer, decodeJwt(await loginToken(server)).iss);

  const jwks = await getJson(server, JWKS_PATH);
  assert.equal(jwks.res.status, 200);
  assert.deepEqual(await accessTokenJwks(server), []);
  const [idTokenKey] = await server.store.listIdTokenKeys(unixNow());
  assert.deepEqual(
    (jwks.body.keys as Json[]).map((key) => [key.kid, key.kty, key.alg]),
    [[idTokenKey.kid, "RSA", "RS256"]],
  );
  assert.ok(!JSON.stringify(jwks.body).includes(JWT_SECRET));
});

Deno.test("after store.rotateSigningKey the JWKS lists the new and the old key, and new tokens use the new kid", async () => {
  await using server = await startTestServer({ users: USERS });
  const oldToken = await loginToken(server);
  const oldKid = decodeProtectedHeader(oldToken).kid;
  const now = unixNow();
  const next = await generateSigningKey(now);
  await server.store.rotateSigningKey(next, now + 3600, now);

  // The server re-reads its keys about every second.
  let kids: string[] = [];
  await waitFor(() => `the JWKS to list two keys; it lists ${JSON.stringify(kids)}`, async () => {
    kids = await jwksKids(server);
    return kids.length === 2;
  });
  assert.deepEqual(kids.toSorted(), [next.kid, oldKid].toSorted());

  const newToken = await loginToken(server);
  assert.equal(decodeProtectedHeader(newToken).kid, next.kid);
  for (const token of [oldToken, newToken]) {
    const res = await fetch(`${server.url}/hello`, {
      client: server.client,
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body?.cancel();
    assert.equal(res.status, 200, "tokens of both keys verify");
  }
});
