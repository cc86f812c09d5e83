/**
 * @module
 * Discovery: the JWKS (access-token keys and ID-token keys) and one metadata document, served
 * as RFC 8414 authorization server metadata and as OpenID Connect Discovery 1.0 provider
 * metadata, both following the key ring, so that a key rotation (also across algorithms) shows
 * in them within a second.
 */
import { DEVICE_CODE_GRANT } from "../auth/clients/grants.ts";
import { DPOP_ALGORITHMS } from "../auth/tokens/dpop_proofs.ts";
import { PROMPT_VALUES } from "../auth/sign_in/authorization_requests.ts";
import { ID_TOKEN_ALG, type IdTokenKeys } from "../auth/sign_in/id_tokens.ts";
import { ACR_VALUES_SUPPORTED } from "../auth/sign_in/authentication_context.ts";
import type { SigningKeys } from "../auth/tokens/signing_keys.ts";
import { CODE_CHALLENGE_METHOD } from "../auth/sign_in/pkce.ts";
import type { ScopePolicy } from "../auth/scopes.ts";
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";

/** How long verifiers may cache the key set and metadata. */
const DISCOVERY_CACHE_CONTROL = "public, max-age=300";

/** Client authentication methods of the token and revocation endpoints. */
const CLIENT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"];

/** Claims that ID tokens and `/userinfo` may carry. */
const CLAIMS_SUPPORTED = [
  "iss",
  "sub",
  "aud",
  "exp",
  "iat",
  "auth_time",
  "nonce",
  "at_hash",
  "sid",
  "amr",
  "acr",
  "preferred_username",
];

/**
 * `GET /.well-known/jwks.json` (RFC 7517): the public keys that still verify, with `kid`, `alg`
 * and `use`: the access-token keys (none with HS256, whose secret is never published) and the
 * RS256 ID-token keys.
 */
export function createJwksHandler(
  { keys, idTokenKeys }: { keys: SigningKeys; idTokenKeys: IdTokenKeys },
): Handler {
  return function jwks() {
    return json({ keys: [...keys.publicJwks(), ...idTokenKeys.publicJwks()] }, {
      headers: { "cache-control": DISCOVERY_CACHE_CONTROL },
    });
  };
}

/**
 * `GET /.well-known/oauth-authorization-server` (RFC 8414) and
 * `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3): one document with
 * every field both require. The access-token algorithms listed are those of every key that still
 * verifies, the current one first. With HS256, access tokens can be checked only by this service
 * or through introspection; `jwks_uri` then lists only the ID-token keys.
 */
export function createMetadataHandler(
  { issuer, publicUrl, keys, scopes, parRequired = false }: {
    issuer: string;
    publicUrl: string;
    keys: SigningKeys;
    /** Scopes, with `openid` and `profile`. */
    scopes: ScopePolicy;
    /** Whether every client must push its authorization requests first (`REQUIRE_PAR`). */
    parRequired?: boolean;
  },
): Handler {
  return function metadata() {
    return json({
      issuer,
      authorization_endpoint: `${publicUrl}/authorize`,
      token_endpoint: `${publicUrl}/oauth/token`,
      userinfo_endpoint: `${publicUrl}/userinfo`,
      end_session_endpoint: `${publicUrl}/end-session`,
      revocation_endpoint: `${publicUrl}/oauth/revoke`,
      introspection_endpoint: `${publicUrl}/oauth/introspect`,
      jwks_uri: `${publicUrl}/.well-known/jwks.json`,
      grant_types_supported: [
        "authorization_code",
        "client_credentials",
        "password",
        "refresh_token",
        DEVICE_CODE_GRANT,
      ],
      response_types_supported: ["code"],
      response_modes_supported: ["query"],
      scopes_supported: scopes.supported,
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
      code_challenge_methods_supported: [CODE_CHALLENGE_METHOD],
      authorization_response_iss_parameter_supported: true,
      prompt_values_supported: PROMPT_VALUES,
      claims_supported: CLAIMS_SUPPORTED,
      acr_values_supported: ACR_VALUES_SUPPORTED,
      claims_parameter_supported: false,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
      introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      access_token_signing_alg_values_supported: keys.verificationAlgs(),
      pushed_authorization_request_endpoint: `${publicUrl}/oauth/par`,
      require_pushed_authorization_requests: parRequired,
      device_authorization_endpoint: `${publicUrl}/oauth/device_authorization`,
      dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
    }, { headers: { "cache-control": DISCOVERY_CACHE_CONTROL } });
  };
}
