/**
 * @module
 * The DPoP example of src/auth/tokens/README.md, which shows it whole: a client makes an Ed25519
 * key, gets a DPoP-bound token with the password grant and calls /hello with a proof. It lives
 * here so that `deno check` type-checks it and tests/dpop_example_test.ts runs it against the
 * real server; `deno run --allow-net --allow-read tests/dpop_example.ts` runs it against
 * `deno task start`.
 */
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

/** The client's key pair; EdDSA (Ed25519) costs the server far less to check than ES256. */
export interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

/** A new key, kept for as long as the tokens bound to it. */
export async function newDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair("Ed25519");
  return { privateKey, jwk: await exportJWK(publicKey) };
}

/** A proof for one request: its method, its URL without query, at a resource the token's hash. */
export async function dpopProof(
  key: DpopKey,
  method: string,
  url: string,
  accessToken?: string,
): Promise<string> {
  const ath = accessToken === undefined ? undefined : new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)),
  ).toBase64({ alphabet: "base64url", omitPadding: true });
  return await new SignJWT({ htm: method, htu: url, jti: crypto.randomUUID(), ath })
    .setProtectedHeader({ typ: "dpop+jwt", alg: "EdDSA", jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

/** Signs in with the password grant and a proof, then calls /hello with the bound token. */
export async function helloWithDpop(
  baseUrl: string,
  user: { username: string; password: string },
  http: Deno.HttpClient,
): Promise<unknown> {
  const key = await newDpopKey();
  const tokenUrl = `${baseUrl}/oauth/token`;
  const res = await fetch(tokenUrl, {
    method: "POST",
    client: http,
    headers: { DPoP: await dpopProof(key, "POST", tokenUrl) },
    body: new URLSearchParams({ grant_type: "password", client_id: "auth-api", ...user }),
  });
  const tokens = await res.json();
  if (!res.ok) throw new Error(`Token request refused: ${tokens.error_description}`);
  // tokens.token_type is "DPoP": the token is worth nothing without a proof made with `key`.
  const helloUrl = `${baseUrl}/hello`;
  const hello = await fetch(helloUrl, {
    client: http,
    headers: {
      Authorization: `DPoP ${tokens.access_token}`,
      DPoP: await dpopProof(key, "GET", helloUrl, tokens.access_token),
    },
  });
  return await hello.json();
}

if (import.meta.main) {
  const http = Deno.createHttpClient({ caCerts: [await Deno.readTextFile("certs/cert.pem")] });
  const user = { username: "user1", password: "password1" };
  console.log(await helloWithDpop("https://localhost:8443", user, http));
}
