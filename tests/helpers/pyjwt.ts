/**
 * Python's PyJWT (Debian's python3-jwt) as a verifier written elsewhere: it reads our discovery
 * document and the JWKS it names over HTTPS, trusting only the test certificate, and checks a
 * token with nothing else; and {@linkcode tampered}, a token it (and every verifier) must refuse.
 *
 * @module
 */
import { join } from "node:path";
import { base64url } from "jose";
import { type Python, python3With } from "./prerequisites.ts";
import { type CliResult, runProgram } from "./process.ts";
import type { TestServer } from "./server.ts";

/** A python3 with PyJWT, its ES256 and RS256 support, and requests. */
export const PYJWT: Python = python3With("jwt", "cryptography", "requests");

/** What a token is checked against. */
export interface PyJwtCheck {
  /** The discovery document, such as `/.well-known/openid-configuration`. */
  metadataPath: string;
  /** The `aud` the token must have. */
  audience: string;
  /** The metadata field that lists the algorithms to accept. */
  algorithmsField:
    | "access_token_signing_alg_values_supported"
    | "id_token_signing_alg_values_supported";
}

/**
 * Verifies `token` with PyJWT as {@linkcode PyJwtCheck} says: on success it prints the token's
 * `sub` and exits 0; a refused token prints the PyJWT error's class name and exits 1.
 */
export async function verifyWithPyJwt(
  server: TestServer,
  token: string,
  check: PyJwtCheck,
): Promise<CliResult> {
  const cert = join(server.dir, "trusted-cert.pem");
  await Deno.writeTextFile(cert, server.certPem);
  const script = join(server.dir, "verify_with_pyjwt.py");
  await Deno.writeTextFile(script, VERIFIER);
  const args = [server.url, check.metadataPath, cert, check.audience, check.algorithmsField, token];
  return await runProgram(PYJWT.path, [script, ...args], { env: { PYTHONWARNINGS: "default" } });
}

/** The token with its payload replaced (sub: "admin") and the original signature kept. */
export function tampered(token: string): string {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
  const forged = base64url.encode(JSON.stringify({ ...claims, sub: "admin" }));
  return [header, forged, signature].join(".");
}

const VERIFIER = `import sys
import jwt
import requests

issuer, metadata_path, cert, audience, algorithms_field, token = sys.argv[1:7]
metadata = requests.get(f"{issuer}{metadata_path}", verify=cert).json()
assert metadata["issuer"] == issuer
jwks = requests.get(metadata["jwks_uri"], verify=cert).json()
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid)
try:
    claims = jwt.decode(
        token,
        key.key,
        algorithms=metadata[algorithms_field],
        audience=audience,
        issuer=issuer,
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
    )
except jwt.InvalidTokenError as error:
    print(type(error).__name__)
    sys.exit(1)
print(claims["sub"])
`;
