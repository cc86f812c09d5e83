/**
 * DPoP proofs made by hand (RFC 9449 §4.2), right or wrong on purpose: a client key pair (ES256 or
 * Ed25519) that signs proofs for a method and URL, with any header or claim replaced, and the
 * token-endpoint and resource calls that carry them.
 *
 * @module
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { basicAuthorization, postForm } from "./forms.ts";

/** base64url without padding. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** The proof algorithms the tests use. */
export type ProofAlg = "ES256" | "EdDSA";

/** What a proof says; each field replaces the right value. */
export interface ProofFields {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  /** The access token whose hash goes in `ath`. */
  accessToken?: string;
  ath?: string;
  nonce?: string;
  /** Header fields to replace (`typ`, `jwk`, `alg`…); `undefined` removes one. */
  header?: Record<string, unknown>;
  /** Claims to replace; `undefined` removes one. */
  claims?: Record<string, unknown>;
}

/** A client's DPoP key pair. */
export class DpopKey {
  readonly alg: ProofAlg;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
  readonly #privateKey: CryptoKey;

  private constructor(alg: ProofAlg, privateKey: CryptoKey, publicJwk: JWK, privateJwk: JWK) {
    this.alg = alg;
    this.#privateKey = privateKey;
    this.publicJwk = publicJwk;
    this.privateJwk = privateJwk;
  }

  /** A new key pair for `alg`. */
  static async generate(alg: ProofAlg = "ES256"): Promise<DpopKey> {
    const { privateKey, publicKey } = await generateKeyPair(
      alg === "EdDSA" ? "Ed25519" : alg,
      { extractable: true },
    );
    return new DpopKey(alg, privateKey, await exportJWK(publicKey), await exportJWK(privateKey));
  }

  /** The key's RFC 7638 thumbprint, as `cnf.jkt` names it. */
  thumbprint(): Promise<string> {
    return calculateJwkThumbprint(this.publicJwk, "sha256");
  }

  /** A proof for `htm` `htu`, signed with this key; `fields` replace what a client would send. */
  async proof(htm: string, htu: string, fields: ProofFields = {}): Promise<string> {
    const claims: Record<string, unknown> = {
      htm: fields.htm ?? htm,
      htu: fields.htu ?? htu,
      iat: fields.iat ?? Math.floor(Date.now() / 1000),
      jti: fields.jti ?? crypto.randomUUID(),
      ...(fields.nonce !== undefined && { nonce: fields.nonce }),
      ...(fields.accessToken !== undefined && { ath: await accessTokenHash(fields.accessToken) }),
      ...(fields.ath !== undefined && { ath: fields.ath }),
      ...fields.claims,
    };
    const header: Record<string, unknown> = {
      typ: "dpop+jwt",
      alg: this.alg,
      jwk: this.publicJwk,
      ...fields.header,
    };
    return await new SignJWT(defined(claims))
      .setProtectedHeader(defined(header) as { alg: string })
      .sign(this.#privateKey);
  }
}

/** `ath`: the base64url SHA-256 of an access token. */
export async function accessTokenHash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return encodeBase64Url(new Uint8Array(digest));
}

/** A JWS with the given header and claims and any signature: for `alg: none` and the like. */
export function unsignedJws(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  signature = "",
): string {
  const part = (value: unknown) => encodeBase64Url(new TextEncoder().encode(JSON.stringify(value)));
  return `${part(header)}.${part(claims)}.${signature}`;
}

/** An HS256 proof, signed with `secret`, that names a symmetric key in `jwk`. */
export async function hmacProof(
  claims: Record<string, unknown>,
  secret: Uint8Array,
): Promise<string> {
  const jwk = { kty: "oct", k: encodeBase64Url(secret) };
  return await new SignJWT(claims)
    .setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk } as { alg: string })
    .sign(secret);
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

/** A server the DPoP calls reach. */
export interface DpopServer {
  url: string;
  client: Deno.HttpClient;
}

/** An answer with its parsed JSON body. */
export interface Answer {
  res: Response;
  body: Record<string, unknown>;
}

/** POSTs a token request with the given `DPoP` header values (none, one, or several). */
export function dpopTokenRequest(
  server: DpopServer,
  form: Record<string, string>,
  proofs: string[],
  basic?: { id: string; secret: string },
): Promise<Answer> {
  const headers = new Headers();
  for (const proof of proofs) headers.append("dpop", proof);
  if (basic) headers.set("authorization", basicAuthorization(basic));
  return postForm(server, "/oauth/token", form, headers);
}

/** Calls a protected resource with `authorization` and the given `DPoP` header values. */
export async function callResource(
  server: DpopServer,
  path: string,
  authorization: string,
  proofs: string[],
  method = "GET",
): Promise<Answer> {
  const headers = new Headers({ authorization });
  for (const proof of proofs) headers.append("dpop", proof);
  const res = await fetch(`${server.url}${path}`, { client: server.client, method, headers });
  return { res, body: await res.json() };
}

/** A password grant of the default public client with a proof of `key`; the tokens it answers. */
export async function dpopPasswordLogin(
  server: DpopServer,
  key: DpopKey,
  user: { username: string; password: string },
): Promise<{ access: string; refresh: string; body: Record<string, unknown> }> {
  const proof = await key.proof("POST", `${server.url}/oauth/token`);
  const { res, body } = await dpopTokenRequest(server, {
    grant_type: "password",
    client_id: "auth-api",
    ...user,
  }, [proof]);
  if (res.status !== 200) throw new Error(`Login refused: ${JSON.stringify(body)}`);
  return { access: body.access_token as string, refresh: body.refresh_token as string, body };
}

/** Calls `/hello` with a DPoP-bound token and a fresh proof of `key` for it. */
export async function dpopHello(
  server: DpopServer,
  key: DpopKey,
  token: string,
  fields: ProofFields = {},
): Promise<Answer> {
  const proof = await key.proof("GET", `${server.url}/hello`, { accessToken: token, ...fields });
  return await callResource(server, "/hello", `DPoP ${token}`, [proof]);
}
