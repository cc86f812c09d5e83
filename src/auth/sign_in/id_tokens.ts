/**
 * @module
 * OpenID Connect ID tokens: the RS256 key pair they are signed with (kept in the store, shared
 * by every instance, published in the JWKS beside the access-token keys), issuing them (OpenID
 * Connect Core §2, §3.1.3.6) and checking an `id_token_hint` we issued. It never reads a request.
 */
import { decodeProtectedHeader, importJWK, type JWK, jwtVerify, SignJWT } from "jose";
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { TokenStore } from "../../store/tokens.ts";
import { AuthFailure } from "../errors.ts";
import { acrOf } from "./authentication_context.ts";
import { generateSigningKey, type SigningAlg } from "../tokens/signing_keys.ts";

/** The algorithm of ID tokens: the one every OpenID provider must offer (Core §15.1). */
export const ID_TOKEN_ALG: SigningAlg = "RS256";
/** What an ID token says, besides what the service adds (`iss`, `iat`, `exp`). */
export interface IdTokenGrant {
  subject: string;
  clientId: string;
  /** When the user entered their password. */
  authTime: UnixSeconds;
  /** The browser session, as `sid`. */
  sessionId: string;
  /** How the user signed in (RFC 8176), also giving `acr`; a password alone when absent. */
  amr?: readonly string[];
  nonce?: string;
  /** The access token issued with it, for `at_hash`. */
  accessToken: string;
}

/** Claims of a verified `id_token_hint`. */
export interface IdTokenHint {
  sub: string;
  /** The client it was issued to. */
  clientId: string;
  sid?: string;
  /**
   * Whether it has not expired, within the leeway: only a fresh hint may vouch for a logout; a
   * stale one still names its client.
   */
  fresh: boolean;
}

/** Settings of the ID-token service. */
export interface IdTokenOptions {
  issuer: string;
  ttlSeconds: number;
  /** Clock skew tolerated when deciding whether a hint has expired. */
  leewaySeconds: number;
}

/**
 * The RS256 keys of ID tokens, read from the store (where the first instance to start makes
 * one) and kept in memory.
 */
export class IdTokenKeys {
  /** The `kid` of the key that signs. */
  readonly kid: string;
  readonly #privateKey: CryptoKey;
  readonly #publicKeys: Map<string, CryptoKey>;
  readonly #publicJwks: JWK[];

  private constructor(
    kid: string,
    privateKey: CryptoKey,
    publicKeys: Map<string, CryptoKey>,
    jwks: JWK[],
  ) {
    this.kid = kid;
    this.#privateKey = privateKey;
    this.#publicKeys = publicKeys;
    this.#publicJwks = jwks;
  }

  /** Reads the ID-token keys, making the first one when there is none. */
  static async open(store: TokenStore): Promise<IdTokenKeys> {
    const now = unixNow();
    const current = await store.ensureIdTokenKey(await generateSigningKey(now, ID_TOKEN_ALG), now);
    const records = await store.listIdTokenKeys(now);
    const publicKeys = new Map<string, CryptoKey>();
    for (const record of records) {
      const key = await importJWK(JSON.parse(record.publicJwk), record.alg);
      publicKeys.set(record.kid, key as CryptoKey);
    }
    const privateKey = await importJWK(JSON.parse(current.privateJwk), current.alg);
    return new IdTokenKeys(
      current.kid,
      privateKey as CryptoKey,
      publicKeys,
      records.map((record) => JSON.parse(record.publicJwk)),
    );
  }

  /** The private key that signs. */
  get signingKey(): CryptoKey {
    return this.#privateKey;
  }

  /** The public key of `kid`, when it is one of ours. */
  verificationKey(kid: string): CryptoKey | undefined {
    return this.#publicKeys.get(kid);
  }

  /** Public keys of ID tokens, for the JWKS document. */
  publicJwks(): JWK[] {
    return this.#publicJwks;
  }
}

/**
 * Issues ID tokens and checks the ones clients hand back as `id_token_hint`.
 *
 * @example
 * ```ts
 * const idTokens = new IdTokens(await IdTokenKeys.open(store), { issuer, ttlSeconds: 900, leewaySeconds: 30 });
 * const token = await idTokens.issue({ subject: "alice", clientId: "app", authTime, sessionId, accessToken });
 * ```
 */
export class IdTokens {
  readonly options: Readonly<IdTokenOptions>;
  readonly keys: IdTokenKeys;

  constructor(keys: IdTokenKeys, options: IdTokenOptions) {
    this.keys = keys;
    this.options = options;
  }

  /** Signs an ID token for a client (`aud`), with `at_hash` of the access token issued with it. */
  async issue(grant: IdTokenGrant): Promise<string> {
    const now = unixNow();
    return await new SignJWT({
      auth_time: grant.authTime,
      ...(grant.nonce !== undefined && { nonce: grant.nonce }),
      at_hash: await accessTokenHash(grant.accessToken),
      sid: grant.sessionId,
      amr: [...grant.amr ?? ["pwd"]],
      acr: acrOf(grant.amr ?? ["pwd"]),
    })
      .setProtectedHeader({ alg: ID_TOKEN_ALG, kid: this.keys.kid, typ: "JWT" })
      .setIssuer(this.options.issuer)
      .setSubject(grant.subject)
      .setAudience(grant.clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + this.options.ttlSeconds)
      .sign(this.keys.signingKey);
  }

  /**
   * Checks an `id_token_hint` (RP-Initiated Logout §2): signed by one of our ID-token keys and
   * issued by us to one client. An expired one is accepted, as the specification allows, to name
   * the client; whether it is still `fresh` (not expired beyond the leeway) is said.
   */
  async verifyHint(token: string): Promise<IdTokenHint> {
    const refuse = () =>
      new AuthFailure("invalid_id_token_hint", "The id_token_hint is not an ID token of ours");
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw refuse();
    }
    const key = typeof kid === "string" ? this.keys.verificationKey(kid) : undefined;
    if (!key) throw refuse();
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ID_TOKEN_ALG],
        issuer: this.options.issuer,
        // Expired hints still name their client; freshness is decided below.
        currentDate: new Date(0),
        requiredClaims: ["sub", "aud"],
      });
      const clientId = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
      if (typeof payload.sub !== "string" || typeof clientId !== "string") throw refuse();
      const fresh = typeof payload.exp === "number" &&
        payload.exp + this.options.leewaySeconds > unixNow();
      return {
        sub: payload.sub,
        clientId,
        ...(typeof payload.sid === "string" && { sid: payload.sid }),
        fresh,
      };
    } catch (error) {
      if (error instanceof AuthFailure) throw error;
      throw refuse();
    }
  }
}

/** `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the token's SHA-256, base64url. */
export async function accessTokenHash(accessToken: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken));
  return new Uint8Array(digest).subarray(0, 16).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}
