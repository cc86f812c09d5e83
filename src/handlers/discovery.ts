/**
 * @module
 * Discovery documents: the RFC 7517 key set and the RFC 8414 metadata, both following the key
 * ring, so that a key rotation (also across algorithms) shows in them within a second.
 */
import type { KeyRing } from "../auth/keys.ts";
import type { ScopePolicy } from "../auth/scopes.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";

/** How long verifiers may cache the key set and metadata. */
const DISCOVERY_CACHE_CONTROL = "public, max-age=300";

/**
 * `GET /.well-known/jwks.json` (RFC 7517): the public keys that still verify, with `kid`, `alg`
 * and `use`. Empty with HS256, whose secret is never published.
 */
export function createJwksHandler({ keys }: { keys: KeyRing }): Handler {
  return function jwks() {
    return json({ keys: keys.publicJwks() }, {
      headers: { "cache-control": DISCOVERY_CACHE_CONTROL },
    });
  };
}

/**
 * `GET /.well-known/oauth-authorization-server` (RFC 8414). The signing algorithms listed are
 * those of every key that still verifies, the current one first. With HS256 there is no
 * `jwks_uri`: tokens can then be checked only by this service or through introspection.
 */
export function createMetadataHandler(
  { issuer, publicUrl, keys, scopes }: {
    issuer: string;
    publicUrl: string;
    keys: KeyRing;
    scopes: ScopePolicy;
  },
): Handler {
  return function metadata() {
    return json({
      issuer,
      token_endpoint: `${publicUrl}/oauth/token`,
      revocation_endpoint: `${publicUrl}/oauth/revoke`,
      introspection_endpoint: `${publicUrl}/oauth/introspect`,
      ...(!keys.symmetric && { jwks_uri: `${publicUrl}/.well-known/jwks.json` }),
      grant_types_supported: ["password", "refresh_token"],
      response_types_supported: [],
      scopes_supported: scopes.supported,
      token_endpoint_auth_methods_supported: ["none", "client_secret_basic", "client_secret_post"],
      revocation_endpoint_auth_methods_supported: [
        "none",
        "client_secret_basic",
        "client_secret_post",
      ],
      introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      access_token_signing_alg_values_supported: keys.verificationAlgs(),
    }, { headers: { "cache-control": DISCOVERY_CACHE_CONTROL } });
  };
}
