/**
 * @module
 * DPoP proofs (RFC 9449 §4.3): the checks of a `DPoP` header at the token endpoint and at
 * protected resources — one JWT of type `dpop+jwt`, signed by an asymmetric algorithm with the
 * public key it embeds, for this method and URL, issued within the window, with the server's
 * nonce when one is required, the access token's hash at a resource, and never seen before.
 * It answers the key's RFC 7638 thumbprint (`jkt`), to which tokens are then bound. Refusals are
 * AuthFailure `invalid_dpop_proof` or `use_dpop_nonce`, reported to the audit trail with a short
 * reason. It reads header values, not requests.
 */
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  type JWK,
  jwtVerify,
} from "jose";
import { unixNow, type UnixSeconds } from "../../clock.ts";
import { AuthFailure } from "../errors.ts";
import type { Origin, SecurityEvents } from "../events.ts";
import { sha256 } from "../secrets.ts";
import type { DpopNonces } from "./dpop_nonces.ts";
import type { DpopReplays } from "./dpop_replays.ts";

/** The proof signing algorithms accepted: asymmetric only, never `none` or an HMAC. */
export const DPOP_ALGORITHMS: readonly string[] = ["ES256", "EdDSA", "Ed25519", "PS256", "RS256"];
/** Seconds a proof's `iat` may be from now, either way, by default. */
export const DEFAULT_DPOP_WINDOW_SECONDS = 60;

const PROOF_TYPE = "dpop+jwt";
/** A proof is small: a header with a public key, a few claims, one signature. */
const MAX_PROOF_BYTES = 8192;
const MAX_JTI_LENGTH = 256;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Members only a private or symmetric JWK has (RFC 7518 §6). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** Settings of DPoP proof checks. */
export interface DpopProofOptions {
  /** The service's public URL (PUBLIC_URL): proofs name its origin, never the Host header's. */
  publicUrl: string;
  /** Seconds a proof's `iat` may be from now, either way. */
  windowSeconds?: number;
  /** Whether every proof must carry a nonce this service made (RFC 9449 §8). */
  nonceRequired?: boolean;
}

/** What DPoP proof checks work with. */
export interface DpopProofDeps {
  replays: DpopReplays;
  nonces: DpopNonces;
  events?: SecurityEvents;
}

/** The request a proof is checked against. */
export interface ProofTarget {
  /** The request's method. */
  method: string;
  /** The request's path (no query), joined to the public URL's origin as the expected `htu`. */
  path: string;
  /** At a protected resource: the access token the proof must hash in `ath`. */
  accessToken?: string;
  /** Where the request came from, for the audit trail. */
  origin?: Origin;
}

/** A proof that passed every check. */
export interface VerifiedProof {
  /** The RFC 7638 SHA-256 thumbprint of the proof's key, base64url. */
  jkt: string;
}

/**
 * Checks DPoP proofs.
 *
 * @example
 * ```ts
 * const proofs = new DpopProofs({ replays, nonces }, { publicUrl: "https://auth.example" });
 * const proof = await proofs.verify(req.headers.get("dpop"), { method: "POST", path: "/oauth/token" });
 * proof?.jkt; // the key's thumbprint, or undefined when no proof was sent
 * ```
 */
export class DpopProofs {
  readonly options: Readonly<Required<DpopProofOptions>>;
  #deps: DpopProofDeps;
  #origin: string;

  constructor(deps: DpopProofDeps, options: DpopProofOptions) {
    this.#deps = deps;
    this.options = {
      windowSeconds: DEFAULT_DPOP_WINDOW_SECONDS,
      nonceRequired: false,
      ...options,
    };
    this.#origin = new URL(options.publicUrl).origin;
  }

  /** The nonce clients are handed when nonces are required; undefined otherwise. */
  async nonce(now: UnixSeconds = unixNow()): Promise<string | undefined> {
    return this.options.nonceRequired ? await this.#deps.nonces.current(now) : undefined;
  }

  /**
   * A refusal found outside the proof itself (no proof where one is required, a proof of another
   * key than the token's), reported as {@linkcode verify}'s are; throw what it returns.
   */
  refuse(reason: "missing" | "key_mismatch", message: string, origin?: Origin): AuthFailure {
    this.#deps.events?.record({ event: "dpop_proof_refused", reason }, origin);
    return refused(message, reason);
  }

  /**
   * Checks the `DPoP` header (`header`, as the request's headers join it; null when absent)
   * against `target`; undefined when there is none. Throws AuthFailure `invalid_dpop_proof`, or
   * `use_dpop_nonce` with the nonce to use.
   */
  async verify(
    header: string | null,
    target: ProofTarget,
    now: UnixSeconds = unixNow(),
  ): Promise<VerifiedProof | undefined> {
    if (header === null) return undefined;
    try {
      return await this.#verify(header.trim(), target, now);
    } catch (error) {
      if (error instanceof AuthFailure) {
        this.#deps.events?.record({
          event: error.reason === "replayed" ? "dpop_proof_replayed" : "dpop_proof_refused",
          reason: error.reason,
        }, target.origin);
      }
      throw error;
    }
  }

  async #verify(proof: string, target: ProofTarget, now: UnixSeconds): Promise<VerifiedProof> {
    // Several headers reach us joined by commas, which no JWS contains.
    if (/[,\s]/.test(proof)) throw refused("Send exactly one DPoP header", "multiple");
    if (proof.length > MAX_PROOF_BYTES || !JWS_COMPACT.test(proof)) {
      throw refused("Malformed DPoP proof", "malformed");
    }
    let header;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      throw refused("Malformed DPoP proof", "malformed");
    }
    if (header.typ !== PROOF_TYPE) throw refused('DPoP proof "typ" must be "dpop+jwt"', "type");
    if (typeof header.alg !== "string" || !DPOP_ALGORITHMS.includes(header.alg)) {
      throw refused(
        `DPoP proof algorithm must be one of ${DPOP_ALGORITHMS.join(", ")}`,
        "algorithm",
      );
    }
    const jwk = header.jwk;
    if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) {
      throw refused('DPoP proof must carry its public key in "jwk"', "malformed");
    }
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
      throw refused("DPoP proof key must be a public key", "private_key");
    }
    let claims: Record<string, unknown>;
    try {
      const result = await jwtVerify(proof, EmbeddedJWK, {
        algorithms: [...DPOP_ALGORITHMS],
        typ: PROOF_TYPE,
      });
      claims = result.payload as Record<string, unknown>;
    } catch {
      throw refused("DPoP proof signature is not valid", "signature");
    }
    this.#checkClaims(claims, target, now);
    if (target.accessToken !== undefined) {
      const expected = sha256(target.accessToken).toBase64({
        alphabet: "base64url",
        omitPadding: true,
      });
      if (claims.ath !== expected) {
        throw refused('DPoP proof "ath" does not match the access token', "ath");
      }
    }
    if (this.options.nonceRequired && !await this.#deps.nonces.accepts(claims.nonce, now)) {
      throw new AuthFailure("use_dpop_nonce", "Use the DPoP-Nonce the server provides", {
        reason: "nonce",
        dpopNonce: await this.#deps.nonces.current(now),
      });
    }
    const jkt = await calculateJwkThumbprint(jwk as JWK, "sha256");
    const iat = claims.iat as number;
    const expiresAt = Math.max(iat, now) + this.options.windowSeconds + 1;
    if (!await this.#deps.replays.firstUse(jkt, claims.jti as string, { expiresAt, now })) {
      throw refused("DPoP proof was already used", "replayed");
    }
    return { jkt };
  }

  #checkClaims(claims: Record<string, unknown>, target: ProofTarget, now: UnixSeconds): void {
    if (claims.htm !== target.method) {
      throw refused('DPoP proof "htm" does not match the request method', "method");
    }
    if (typeof claims.htu !== "string" || normalHtu(claims.htu) !== this.#origin + target.path) {
      throw refused('DPoP proof "htu" does not match the request URL', "url");
    }
    const { iat, jti } = claims;
    if (typeof iat !== "number" || !Number.isFinite(iat)) {
      throw refused('DPoP proof needs a numeric "iat"', "iat");
    }
    if (Math.abs(now - iat) > this.options.windowSeconds) {
      throw refused('DPoP proof "iat" is outside the accepted window', "iat");
    }
    if (typeof jti !== "string" || jti === "" || jti.length > MAX_JTI_LENGTH) {
      throw refused('DPoP proof needs a "jti" of at most 256 characters', "jti");
    }
  }
}

/** An AuthFailure as a protected resource answers it: with a `DPoP` challenge. */
export function atResource(error: unknown): unknown {
  if (!(error instanceof AuthFailure)) return error;
  return new AuthFailure(error.code, error.message, {
    reason: error.reason,
    scope: error.scope,
    retryAfterSeconds: error.retryAfterSeconds,
    dpopNonce: error.dpopNonce,
    dpopChallenge: true,
  });
}

/** RFC 9449 §4.3: the URI without query and fragment, normalised (RFC 3986 §6.2.2, §6.2.3). */
function normalHtu(htu: string): string | undefined {
  try {
    const url = new URL(htu);
    return url.origin + url.pathname;
  } catch {
    return undefined;
  }
}

function refused(message: string, reason: string): AuthFailure {
  return new AuthFailure("invalid_dpop_proof", message, { reason });
}
