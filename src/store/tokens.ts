/**
 * @module
 * The tokens part of the store's contract: the keys that sign access tokens and ID tokens,
 * refresh families with their refresh tokens, and revocations of access tokens, families and
 * removed clients.
 * It declares records and operations only; the backends implement them.
 */
import type { UnixSeconds } from "../clock.ts";

/** A JWT signing key as listed: its public half only. */
export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /** Public key as a JWK JSON string. */
  publicJwk: string;
  createdAt: UnixSeconds;
  /** When this key stops verifying; null while it is the current key. */
  retiresAt: UnixSeconds | null;
}

/**
 * A new signing key with its private half. The store keeps the private JWK only while the key is
 * the current one and erases it when the key retires or is revoked.
 */
export interface NewSigningKey extends SigningKeyRecord {
  /** Private key as a JWK JSON string. */
  privateJwk: string;
}

/** The part of a new key that is listed and kept after it stops signing. */
export function publicHalf(key: NewSigningKey): SigningKeyRecord {
  const { privateJwk: _, ...rest } = key;
  return rest;
}

/** What a revoked signing key was: the current one (replaced), a retiring one, or none known. */
export type KeyRevocation = "current" | "retiring" | "unknown";

/**
 * A refresh family: the refresh tokens descended from one login. Its row is the one place its
 * state lives, and every change to the family (rotation, revocation) locks it first.
 */
export interface RefreshFamilyRecord {
  /** The family's id, also the access tokens' `sid`. */
  id: string;
  username: string;
  /** The subject of the user's account, the `sub` of the family's tokens. */
  subject: string;
  clientId: string;
  /** The login. */
  createdAt: UnixSeconds;
  /** Absolute end of the family: no token of the family is valid at or after it. */
  expiresAt: UnixSeconds;
  /**
   * Until when access tokens minted for this family may be accepted (their `exp` plus the
   * leeway): a revocation of the family must be remembered that long.
   */
  accessExpiresAt: UnixSeconds;
  /** When the family was revoked (logout, reuse, account change); null while it lives. */
  revokedAt: UnixSeconds | null;
  /**
   * The RFC 7638 thumbprint of the DPoP key a public client's family is bound to: every refresh
   * must prove possession of it. Null (or absent) for an unbound family.
   */
  dpopJkt?: string | null;
  /**
   * Whether the client had to authenticate when the family started (a configured or registered
   * confidential client): such a family never refreshes without it, nor once the client is gone.
   */
  clientConfidential?: boolean;
}

/** A refresh token as stored: only the SHA-256 of the token itself. */
export interface RefreshTokenRecord {
  tokenHash: string;
  familyId: string;
  scope: string;
  createdAt: UnixSeconds;
  /** Idle expiry of this token; never after its family's `expiresAt`. */
  expiresAt: UnixSeconds;
  /** When it was exchanged for a new one; a second use is a replay. */
  usedAt: UnixSeconds | null;
}

/** A refresh token with its family. */
export interface RefreshTokenState {
  token: RefreshTokenRecord;
  family: RefreshFamilyRecord;
}

/** What a rotation asks the store to insert in place of the presented token. */
export interface NewRefreshToken {
  tokenHash: string;
  scope: string;
  /** Idle expiry; the store caps it at the family's absolute expiry. */
  expiresAt: UnixSeconds;
  /** Until when the access token minted with it may be accepted (`exp` plus leeway). */
  accessExpiresAt: UnixSeconds;
  /**
   * True when the client rotating it authenticated as a confidential client: a family written
   * without `clientConfidential` is marked in the same step. A mark is never taken away.
   */
  clientConfidential?: boolean;
}

/** What happened when a refresh token was presented for rotation. */
export type RotationResult =
  /** The old token is spent and `token` is the new one. */
  | { outcome: "rotated"; family: RefreshFamilyRecord; token: RefreshTokenRecord }
  /** The token had been used before: the family is now revoked, and `revocation` records it. */
  | { outcome: "reused"; family: RefreshFamilyRecord; revocation: RevocationRecord }
  /** The family is revoked, or the token or its family expired; nothing changed. */
  | { outcome: "revoked" | "expired"; family: RefreshFamilyRecord }
  | { outcome: "unknown" };

/**
 * A revoked access token (`jti`), refresh family (`sid`) or removed client (`client`: its access
 * tokens issued until `issuedUntil`), remembered until `expiresAt`.
 */
export interface RevocationRecord {
  /** Increasing number, so that instances can read only what is new. */
  seq: number;
  kind: "jti" | "sid" | "client";
  id: string;
  expiresAt: UnixSeconds;
  /** For a `client` revocation only: its access tokens issued at or before this are refused. */
  issuedUntil?: UnixSeconds;
}

/** Signing keys, ID-token keys, refresh families and tokens, and revocations. */
export interface TokenStore {
  /** Lists signing keys that have not retired by `now` (Unix seconds), newest first. */
  listSigningKeys(now: UnixSeconds): Promise<SigningKeyRecord[]>;
  /** The private JWK of `kid` while it is the current key; undefined otherwise. */
  currentPrivateJwk(kid: string): Promise<string | undefined>;
  /**
   * Makes `key` the current signing key: keys still current retire at `retireOthersAt` and lose
   * their private half, and keys retired before `now` are deleted. Atomic.
   */
  rotateSigningKey(
    key: NewSigningKey,
    retireOthersAt: UnixSeconds,
    now: UnixSeconds,
  ): Promise<void>;
  /** Adds `key` as the current key only when no unretired key exists; returns the current key. */
  ensureSigningKey(key: NewSigningKey, now: UnixSeconds): Promise<SigningKeyRecord>;
  /**
   * Deletes the key `kid` at once, whether current or retiring; when it was the current key,
   * `replacement` becomes current in the same step. Atomic.
   */
  revokeSigningKey(kid: string, replacement: NewSigningKey): Promise<KeyRevocation>;

  /** Lists ID-token signing keys (RS256) that have not retired by `now`, newest first. */
  listIdTokenKeys(now: UnixSeconds): Promise<SigningKeyRecord[]>;
  /** Adds `key` as the ID-token key only when no unretired one exists; returns the current one. */
  ensureIdTokenKey(key: NewSigningKey, now: UnixSeconds): Promise<NewSigningKey>;

  /**
   * Starts a refresh family: inserts the family and its first token, only while `passwordHash`
   * is still the user's (the one the login was checked against; salted, so no later account of
   * the same name has it) and, for a client registered in the store, while the registration the
   * grant was checked against (`client.createdAt`) is still the client's. False, with nothing
   * stored, when the user was removed or their password changed meanwhile, or the client was
   * removed (and perhaps registered again).
   */
  startRefreshFamily(
    family: RefreshFamilyRecord,
    token: RefreshTokenRecord,
    passwordHash: string,
    client?: { createdAt: UnixSeconds },
  ): Promise<boolean>;
  /** Finds a refresh token by the hash of its value, with its family. */
  getRefreshToken(tokenHash: string): Promise<RefreshTokenState | undefined>;
  /**
   * Rotates a refresh token in one transaction that holds its family's lock: when the family is
   * live and the token unused and unexpired, `next` says what to insert (it may throw to refuse,
   * changing nothing), the old token is marked used, the new one inserted and the family's
   * `accessExpiresAt` extended. A used token revokes its family (and records the `sid`
   * revocation) in the same transaction. So a revoked family never mints again.
   */
  rotateRefreshToken(
    tokenHash: string,
    now: UnixSeconds,
    next: (current: RefreshTokenState) => NewRefreshToken,
  ): Promise<RotationResult>;
  /**
   * Revokes a family (keeping the first revocation time) and records its `sid` revocation until
   * the family's `accessExpiresAt`, in one transaction; returns that revocation, or undefined
   * for an unknown family.
   */
  revokeRefreshFamily(familyId: string, now: UnixSeconds): Promise<RevocationRecord | undefined>;
  /**
   * Revokes a family only while it is live, as {@linkcode revokeRefreshFamily} does; undefined,
   * with nothing written, when the family is unknown or was revoked before. Of callers racing to
   * end the same family, exactly one gets the revocation.
   */
  revokeLiveRefreshFamily(
    familyId: string,
    now: UnixSeconds,
  ): Promise<RevocationRecord | undefined>;
  /**
   * Marks the families of `clientIds` that are neither revoked nor ended at `now` as families
   * whose client had to authenticate (`clientConfidential`), for families written without the
   * mark (before it existed, or by an instance that did not know it); returns how many it marked.
   */
  markConfidentialFamilies(clientIds: readonly string[], now: UnixSeconds): Promise<number>;

  /** Records a revocation of an access token or family (idempotent for the same kind and id). */
  addRevocation(kind: "jti" | "sid", id: string, expiresAt: UnixSeconds): Promise<void>;
  /** Lists revocations with `seq` above `afterSeq` that have not expired by `now`. */
  listRevocations(afterSeq: number, now: UnixSeconds): Promise<RevocationRecord[]>;
}
