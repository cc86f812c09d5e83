/**
 * @module
 * Access tokens: issuing and verifying JWTs by the RFC 9068 profile and the RFC 8725 checks,
 * with a cache of verified tokens. It reads keys from the key ring and revocations from the
 * revocation list; it never reads a request.
 */
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";
import { unixNow, type UnixSeconds } from "../../clock.ts";
import { AuthFailure, invalidToken } from "../errors.ts";
import type { SigningKeys } from "./signing_keys.ts";
import type { Revocations } from "./revocations.ts";
import type { InvalidTokenBudget } from "./invalid_token_budget.ts";

/** The header `typ` of access tokens (RFC 9068). */
export const ACCESS_TOKEN_TYPE = "at+jwt";

const REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"];
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Verified tokens remembered by default. */
const DEFAULT_CACHE_SIZE = 10_000;

/** Verified claims of an access token. */
export interface AccessClaims {
  /** The user's account (its opaque subject), or the client itself for client credentials. */
  sub: string;
  /** The user's name, in a user's token: what `/hello` greets without a store lookup. */
  preferred_username?: string;
  iss: string;
  aud: string | string[];
  iat: UnixSeconds;
  nbf: UnixSeconds;
  exp: UnixSeconds;
  jti: string;
  /** Space-separated scopes granted (RFC 8693 §4.2). */
  scope?: string;
  client_id?: string;
  /** The refresh family the token belongs to. */
  sid?: string;
  /** The DPoP key the token is bound to, by its RFC 7638 thumbprint (RFC 9449 §6.1). */
  cnf?: { jkt: string };
}

/** A freshly issued access token. */
export interface IssuedToken {
  token: string;
  claims: AccessClaims;
  expiresIn: number;
}

/** Settings of access tokens. */
export interface AccessTokenOptions {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  leewaySeconds: number;
  maxTokenBytes: number;
  /** Most verified tokens remembered, so a repeated token costs no signature check. */
  cacheSize?: number;
  /** Revoked tokens and refresh families, checked on every verification, cached or not. */
  revocations?: Revocations;
  /** Invalid tokens allowed per client address before uncached tokens are refused unchecked. */
  invalidTokenBudget?: InvalidTokenBudget;
}

/** Who presents a token to {@linkcode AccessTokens.verify}. */
export interface Presenter {
  /** The client address, charged for invalid tokens when the service has a budget. */
  from?: string;
}

/**
 * Issues and verifies access tokens (RFC 9068 profile, RFC 8725 checks). The algorithm is taken
 * from our key for the token's `kid`, never from the token.
 *
 * @example
 * ```ts
 * const tokens = new AccessTokens(keys, { issuer, audience, ttlSeconds: 900, leewaySeconds: 30, maxTokenBytes: 8192 });
 * const { token } = await tokens.issue(user.subject, { username: "user1", familyId });
 * userNameOf(await tokens.verify(token)); // "user1"
 * ```
 */
export class AccessTokens {
  readonly options: Readonly<AccessTokenOptions>;
  #keys: SigningKeys;
  #cache = new Map<string, { claims: AccessClaims; kid: string }>();
  #cacheSize: number;
  #signatureChecks = 0;
  #cacheHits = 0;
  // Valid tokens are counted in a plain number: that is every request of a protected resource.
  #valid = 0;
  #refused = new Map<string, number>();

  constructor(keys: SigningKeys, options: AccessTokenOptions) {
    this.#keys = keys;
    this.options = options;
    this.#cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  }

  /**
   * Signs a new access token for `subject`, issued at `issuedAt` (by default now): a refresh
   * family passes the time its store transaction recorded, so the token expires no later than the
   * store expects. A user's token names the user (`username`) besides their subject.
   */
  async issue(
    subject: string,
    extra: {
      username?: string;
      scope?: string;
      clientId?: string;
      familyId?: string;
      issuedAt?: UnixSeconds;
      /** The thumbprint of the DPoP key to bind the token to. */
      jkt?: string;
    } = {},
  ): Promise<IssuedToken> {
    const { kid, alg, key } = this.#keys.signingKey();
    const now = extra.issuedAt ?? unixNow();
    const claims: AccessClaims = {
      iss: this.options.issuer,
      aud: this.options.audience,
      sub: subject,
      ...(extra.username !== undefined && { preferred_username: extra.username }),
      iat: now,
      nbf: now,
      exp: now + this.options.ttlSeconds,
      jti: crypto.randomUUID(),
      ...(extra.scope !== undefined && { scope: extra.scope }),
      ...(extra.clientId !== undefined && { client_id: extra.clientId }),
      ...(extra.familyId !== undefined && { sid: extra.familyId }),
      ...(extra.jkt !== undefined && { cnf: { jkt: extra.jkt } }),
    };
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE })
      .sign(key);
    // A token this service just signed needs no signature check when it comes back.
    this.#remember(token, { ...claims }, kid);
    return { token, claims, expiresIn: this.options.ttlSeconds };
  }

  /**
   * Verifies an access token; throws AuthFailure("invalid_token") when it is not acceptable.
   * A token seen before costs a map lookup. Any other token is charged to the presenter's
   * address before it is parsed and refunded if valid; once the address has spent its
   * invalid-token budget, such tokens are refused with AuthFailure("throttled") unchecked.
   */
  async verify(token: string, presenter: Presenter = {}): Promise<AccessClaims> {
    try {
      const claims = await this.#verify(token, presenter);
      this.#valid++;
      return claims;
    } catch (error) {
      this.#countRefused(error);
      throw error;
    }
  }

  /**
   * The claims of a token verified before and still remembered and valid, without waiting, as
   * {@linkcode verify} would give them; undefined when it is not remembered (or no longer valid),
   * for {@linkcode verify} to decide. Throws as verify does when it has been revoked.
   */
  verifyRemembered(token: string): AccessClaims | undefined {
    let claims: AccessClaims | undefined;
    try {
      claims = this.#remembered(token, unixNow());
    } catch (error) {
      this.#countRefused(error);
      throw error;
    }
    if (claims) this.#valid++;
    return claims;
  }

  /**
   * What a remembered token is worth at `now`, the one rule for {@linkcode verify} and
   * {@linkcode verifyRemembered}: its claims (a cache hit) while it has not expired and its key
   * still verifies, a `revoked` refusal (a cache hit too) once it has been revoked, and undefined
   * (forgetting it) when it is not remembered or no longer valid, for a full check to decide.
   */
  #remembered(token: string, now: UnixSeconds): AccessClaims | undefined {
    const cached = this.#cache.get(token);
    if (!cached) return undefined;
    if (!this.#stillValid(cached.claims, cached.kid, now)) {
      this.#cache.delete(token);
      return undefined;
    }
    this.#cacheHits++;
    return this.#notRevoked(cached.claims);
  }

  #countRefused(error: unknown): void {
    const outcome = error instanceof AuthFailure ? error.reason ?? error.code : "error";
    this.#refused.set(outcome, (this.#refused.get(outcome) ?? 0) + 1);
  }

  /** Verifications so far by outcome (`valid`, or the reason a token was refused), for metrics. */
  get outcomes(): ReadonlyMap<string, number> {
    return new Map([["valid", this.#valid], ...this.#refused]);
  }

  /** Verifications answered from the cache of verified tokens so far, for metrics. */
  get cacheHits(): number {
    return this.#cacheHits;
  }

  async #verify(token: string, presenter: Presenter): Promise<AccessClaims> {
    if (token.length > this.options.maxTokenBytes) throw invalid("Token is too large", "too_large");
    if (!hasThreeSegments(token)) throw invalid("Malformed token", "malformed");
    const now = unixNow();
    const remembered = this.#remembered(token, now);
    if (remembered) return remembered;
    const refund = presenter.from === undefined
      ? undefined
      : this.options.invalidTokenBudget?.take(presenter.from, now);
    const claims = await this.#verifyUncached(token, now);
    refund?.();
    return claims;
  }

  async #verifyUncached(token: string, now: UnixSeconds): Promise<AccessClaims> {
    // A cached token is the very string that passed this check, so only new ones need it.
    if (!JWS_COMPACT.test(token)) throw invalid("Malformed token", "malformed");
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalid("Malformed token", "malformed");
    }
    const key = typeof header.kid === "string"
      ? this.#keys.verificationKey(header.kid, now)
      : undefined;
    if (!key) throw invalid("Unknown signing key", "unknown_key");
    if (header.alg !== key.alg) throw invalid("Unexpected token algorithm", "wrong_algorithm");
    let claims: AccessClaims;
    this.#signatureChecks++;
    try {
      const result = await jwtVerify(token, key.key, {
        algorithms: [key.alg],
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: ACCESS_TOKEN_TYPE,
        clockTolerance: this.options.leewaySeconds,
        requiredClaims: REQUIRED_CLAIMS,
      });
      claims = result.payload as unknown as AccessClaims;
    } catch (error) {
      throw verificationError(error);
    }
    this.#checkClaims(claims, now);
    this.#remember(token, claims, key.kid);
    return this.#notRevoked(claims);
  }

  /** Number of signature checks made so far: what the invalid-token budget saves. */
  get signatureChecks(): number {
    return this.#signatureChecks;
  }

  /** Number of verified tokens currently remembered. */
  get cachedCount(): number {
    return this.#cache.size;
  }

  /**
   * What jose leaves to us: the types of the claims we read (a wrong type is a 401, never a
   * crash further on), an `iat` no later than now plus the leeway, and no longer a lifetime than
   * this service gives (a token that says it lives for years was not made here).
   */
  #checkClaims(claims: AccessClaims, now: UnixSeconds): void {
    for (const name of ["sub", "jti"] as const) {
      if (typeof claims[name] !== "string" || claims[name] === "") {
        throw invalid(`Invalid "${name}" claim`, "claims");
      }
    }
    for (const name of ["preferred_username", "scope", "client_id", "sid"] as const) {
      if (claims[name] !== undefined && typeof claims[name] !== "string") {
        throw invalid(`Invalid "${name}" claim`, "claims");
      }
    }
    if (
      claims.cnf !== undefined &&
      (typeof claims.cnf !== "object" || claims.cnf === null || typeof claims.cnf.jkt !== "string")
    ) {
      throw invalid('Invalid "cnf" claim', "claims");
    }
    if (claims.iat > now + this.options.leewaySeconds) {
      throw invalid('Invalid "iat" claim', "claims");
    }
    if (claims.exp - claims.iat > this.options.ttlSeconds) {
      throw invalid('Invalid "exp" claim', "claims");
    }
  }

  #notRevoked(claims: AccessClaims): AccessClaims {
    if (this.options.revocations?.isRevoked(claims)) {
      throw invalid("Token has been revoked", "revoked");
    }
    return claims;
  }

  #stillValid(claims: AccessClaims, kid: string, now: number): boolean {
    return claims.exp + this.options.leewaySeconds > now &&
      this.#keys.verificationKey(kid, now) !== undefined;
  }

  #remember(token: string, claims: AccessClaims, kid: string): void {
    if (this.#cacheSize <= 0) return;
    if (this.#cache.size >= this.#cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(token, { claims: Object.freeze(claims), kid });
  }
}

/**
 * The name of the user a token was issued for; undefined for a client's token for itself (client
 * credentials), which names no user, so that a client is never taken for a user of the same
 * name. Tokens signed before subjects were opaque named the user in `sub` and came, as every
 * user's token, from a refresh family (`sid`).
 */
export function userNameOf(claims: AccessClaims): string | undefined {
  return claims.preferred_username ?? (claims.sid !== undefined ? claims.sub : undefined);
}

/** Two dots, none at either end or side by side: the shape of a JWS, found without a regex. */
function hasThreeSegments(token: string): boolean {
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  return first > 0 && second > first + 1 && second < token.length - 1 &&
    token.indexOf(".", second + 1) === -1;
}

function invalid(message: string, reason = "invalid"): AuthFailure {
  return invalidToken(message, reason);
}

function verificationError(error: unknown): AuthFailure {
  if (error instanceof errors.JWTExpired) return invalid("Token has expired", "expired");
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid("Signature verification failed", "bad_signature");
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf" && error.reason === "check_failed") {
      return invalid("Token is not yet valid", "not_yet_valid");
    }
    return invalid(`Invalid "${error.claim}" claim`, "claims");
  }
  return invalid("Invalid token");
}
