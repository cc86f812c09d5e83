/**
 * @module
 * Signing keys: making key pairs of the configured algorithm, and the key ring that signs with
 * the current key and verifies with every key that has not retired, each with its own
 * algorithm. Keys live in the store; every instance re-reads the public keys each second, so a
 * rotation or revocation made elsewhere takes effect within that bound, and reads a private key
 * only when another key becomes current. It never reads a request.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { NewSigningKey, TokenStore } from "../../store/tokens.ts";
import { repeatEvery } from "../_repeat.ts";

/** Algorithms of the key pairs this service makes (`JWT_ALG`); EdDSA is Ed25519. */
export const SIGNING_ALGS = ["ES256", "EdDSA", "RS256"] as const;
/** An algorithm of the key pairs this service makes. */
export type SigningAlg = typeof SIGNING_ALGS[number];
/** `JWT_ALG` when unset. */
export const DEFAULT_SIGNING_ALG: SigningAlg = "ES256";
/** RSA modulus of RS256 keys, in bits (RFC 7518 §3.3 asks for at least 2048). */
const RSA_MODULUS_BITS = 2048;

/** A key that can verify tokens, with the only algorithm it accepts. */
export interface VerificationKey {
  kid: string;
  alg: string;
  key: CryptoKey | Uint8Array;
  /** When the key stops verifying; undefined while current. */
  retiresAt?: UnixSeconds;
}

/** The key that signs new tokens. */
export interface SigningKey {
  kid: string;
  alg: string;
  key: CryptoKey | Uint8Array;
}

/** Makes a new signing key record of `alg` whose `kid` is its RFC 7638 thumbprint. */
export async function generateSigningKey(
  now: UnixSeconds,
  alg: SigningAlg = DEFAULT_SIGNING_ALG,
): Promise<NewSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "RS256" && { modulusLength: RSA_MODULUS_BITS }),
  });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    privateJwk: JSON.stringify({ ...privateJwk, kid, alg }),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: "sig" }),
    createdAt: now,
    retiresAt: null,
  };
}

/**
 * The signing and verification keys: one HS256 secret, or key pairs (ES256, EdDSA, RS256) kept
 * in the store and re-read periodically so that a rotation by another process is picked up.
 *
 * @example
 * ```ts
 * const keys = await SigningKeys.open(store, { refreshIntervalMs: 1000 });
 * const { kid, alg, key } = keys.signingKey();
 * ```
 */
export class SigningKeys {
  #store?: TokenStore;
  #signing!: SigningKey;
  #verification = new Map<string, VerificationKey>();
  #publicJwks: { jwk: JWK; retiresAt?: UnixSeconds }[] = [];
  #stopRefreshing = () => {};
  #refreshing?: Promise<void>;

  private constructor(store?: TokenStore) {
    this.#store = store;
  }

  /**
   * Opens the key ring: HS256 when `secret` is given, else the keys in the store. A store
   * without keys gets one of `alg`; a store with keys keeps its current key, whatever its
   * algorithm, until `keys rotate`.
   */
  static async open(
    store: TokenStore,
    options: {
      secret?: string;
      alg?: SigningAlg;
      refreshIntervalMs?: number;
      onRefreshError?: (error: unknown) => void;
    } = {},
  ): Promise<SigningKeys> {
    if (options.secret !== undefined) return await SigningKeys.#fromSecret(options.secret);
    const ring = new SigningKeys(store);
    // A key revoked between these two steps leaves no signer; its replacement is found next time.
    for (let attempt = 1; !ring.#signing; attempt++) {
      if (attempt > 3) throw new Error("No current signing key in the store");
      const now = unixNow();
      await store.ensureSigningKey(await generateSigningKey(now, options.alg), now);
      await ring.refresh();
    }
    if (options.refreshIntervalMs) {
      ring.#stopRefreshing = repeatEvery(
        options.refreshIntervalMs,
        () => ring.refresh(),
        options.onRefreshError,
      );
    }
    return ring;
  }

  static async #fromSecret(secret: string): Promise<SigningKeys> {
    const key = new TextEncoder().encode(secret);
    const kid = await calculateJwkThumbprint({
      kty: "oct",
      k: key.toBase64({ alphabet: "base64url", omitPadding: true }),
    });
    const ring = new SigningKeys();
    ring.#signing = { kid, alg: "HS256", key };
    ring.#verification.set(kid, { kid, alg: "HS256", key });
    return ring;
  }

  /** Whether tokens are signed with a shared secret rather than a key pair. */
  get symmetric(): boolean {
    return this.#store === undefined;
  }

  /** The current signing key. */
  signingKey(): SigningKey {
    return this.#signing;
  }

  /** The key for `kid` when it exists and has not retired by `now` (Unix seconds). */
  verificationKey(kid: string, now = unixNow()): VerificationKey | undefined {
    const key = this.#verification.get(kid);
    if (!key || (key.retiresAt !== undefined && key.retiresAt <= now)) return undefined;
    return key;
  }

  /** Public keys that still verify at `now`, for a JWKS document; empty with HS256. */
  publicJwks(now: UnixSeconds = unixNow()): JWK[] {
    return this.#publicJwks
      .filter(({ retiresAt }) => retiresAt === undefined || retiresAt > now)
      .map(({ jwk }) => jwk);
  }

  /** Algorithms of the keys that still verify at `now`, the signing key's first. */
  verificationAlgs(now: UnixSeconds = unixNow()): string[] {
    const algs = new Set([this.#signing.alg]);
    for (const key of this.#verification.values()) {
      if (key.retiresAt === undefined || key.retiresAt > now) algs.add(key.alg);
    }
    return [...algs];
  }

  /** Re-reads the keys from the store, importing only keys not seen before. */
  refresh(): Promise<void> {
    if (!this.#store) return Promise.resolve();
    this.#refreshing ??= this.#reload(this.#store).finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  /** Stops the periodic refresh. */
  close(): void {
    this.#stopRefreshing();
  }

  async #reload(store: TokenStore): Promise<void> {
    const records = await store.listSigningKeys(unixNow());
    const next = new Map<string, VerificationKey>();
    for (const record of records) {
      const known = this.#verification.get(record.kid);
      next.set(record.kid, {
        kid: record.kid,
        alg: record.alg,
        key: known?.key ?? await importJWK(JSON.parse(record.publicJwk), record.alg) as CryptoKey,
        retiresAt: record.retiresAt ?? undefined,
      });
    }
    const current = records.find((record) => record.retiresAt === null);
    if (current && current.kid !== this.#signing?.kid) {
      // Undefined when the key stopped being current since the list was read: the next
      // refresh finds its successor.
      const privateJwk = await store.currentPrivateJwk(current.kid);
      if (privateJwk !== undefined) {
        const key = await importJWK(JSON.parse(privateJwk), current.alg) as CryptoKey;
        this.#signing = { kid: current.kid, alg: current.alg, key };
      }
    }
    this.#verification = next;
    this.#publicJwks = records.map((record) => ({
      jwk: JSON.parse(record.publicJwk),
      retiresAt: record.retiresAt ?? undefined,
    }));
  }
}
