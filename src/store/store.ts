/**
 * @module
 * The store's contract: the records it keeps and the operations every store implements (the
 * embedded SQLite store and the shared PostgreSQL store both pass tests/store_contract.ts).
 * Every time is {@linkcode UnixSeconds}. Failures a caller can act on are StoreFailure.
 */
import type { UnixSeconds } from "../clock.ts";

/** A user account as stored: never a plaintext password. */
export interface UserRecord {
  username: string;
  passwordHash: string;
  createdAt: UnixSeconds;
}

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

/** Failure counter for one throttling key (an account or a client address). */
export interface ThrottleRecord {
  failures: number;
  /** Start of the current counting window. */
  windowStartAt: UnixSeconds;
  /** Until when attempts are refused; 0 when not blocked. */
  blockedUntil: UnixSeconds;
}

/** A refresh token as stored: only the SHA-256 of the token itself. */
export interface RefreshTokenRecord {
  tokenHash: string;
  /** All refresh tokens descended from one login share a family (the access tokens' `sid`). */
  familyId: string;
  username: string;
  clientId: string;
  scope: string;
  createdAt: UnixSeconds;
  expiresAt: UnixSeconds;
  /** When it was exchanged for a new one; a second use is a replay. */
  usedAt: UnixSeconds | null;
  /** When its family was revoked. */
  revokedAt: UnixSeconds | null;
}

/** What happened when a refresh token was presented. */
export type RefreshOutcome =
  | { outcome: "rotated"; record: RefreshTokenRecord }
  | { outcome: "reused" | "revoked" | "expired"; record: RefreshTokenRecord }
  | { outcome: "unknown" };

/** A revoked access token (`jti`) or session (`sid`), remembered until `expiresAt`. */
export interface RevocationRecord {
  /** Increasing number, so that instances can read only what is new. */
  seq: number;
  kind: "jti" | "sid";
  id: string;
  expiresAt: UnixSeconds;
}

/** Persistent state of the service; every implementation passes tests/store_contract.ts. */
export interface Store {
  /** Finds a user by exact name. */
  getUser(username: string): Promise<UserRecord | undefined>;
  /**
   * Adds a user; throws StoreFailure `duplicate_user` when the name is taken. `demo` marks the
   * development mode's demo users, whose passwords are public.
   */
  addUser(username: string, passwordHash: string, options?: { demo?: boolean }): Promise<void>;
  /**
   * Replaces a user's password hash (a new password: the user is no longer a demo user); false
   * when there is no such user.
   */
  setPasswordHash(username: string, passwordHash: string): Promise<boolean>;
  /**
   * Replaces a user's password hash only while it is still `expected` (an upgrade of the same
   * password, which must never undo a concurrent change); false when it was not replaced.
   */
  replacePasswordHash(username: string, expected: string, passwordHash: string): Promise<boolean>;
  /** Removes a user; false when there is no such user. */
  removeUser(username: string): Promise<boolean>;
  /** Lists user names in alphabetical order. */
  listUsers(): Promise<string[]>;
  /** Lists the names of demo users in alphabetical order. */
  listDemoUsers(): Promise<string[]>;
  /**
   * Counts users by the PBKDF2 iteration count of their stored hash (the `i=` parameter of
   * `$pbkdf2-sha256$i=N$…`); hashes of another form are not counted.
   */
  countPasswordIterations(): Promise<Map<number, number>>;

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

  /** Reads the throttle state for a key. */
  getThrottle(key: string): Promise<ThrottleRecord | undefined>;
  /**
   * Atomically records one failure for `key`: `update` receives the current state (or undefined)
   * and returns the new one, which is stored and returned.
   */
  recordFailure(
    key: string,
    update: (current: ThrottleRecord | undefined) => ThrottleRecord,
  ): Promise<ThrottleRecord>;
  /** Forgets the throttle state of a key. */
  clearThrottle(key: string): Promise<void>;

  /** Stores a new refresh token. */
  addRefreshToken(record: RefreshTokenRecord): Promise<void>;
  /** Finds a refresh token by the hash of its value. */
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Atomically marks a refresh token used when it is valid at `now` ("rotated"); otherwise says
   * why not, without changing anything.
   */
  useRefreshToken(tokenHash: string, now: UnixSeconds): Promise<RefreshOutcome>;
  /** Revokes every refresh token of a family. */
  revokeRefreshFamily(familyId: string, now: UnixSeconds): Promise<void>;

  /** Records a revocation (idempotent for the same kind and id). */
  addRevocation(kind: RevocationRecord["kind"], id: string, expiresAt: UnixSeconds): Promise<void>;
  /** Lists revocations with `seq` above `afterSeq` that have not expired by `now`. */
  listRevocations(afterSeq: number, now: UnixSeconds): Promise<RevocationRecord[]>;
  /** Deletes expired refresh tokens, revocations and stale throttle entries. */
  pruneExpired(now: UnixSeconds): Promise<void>;

  /** Releases the store's resources. */
  close(): Promise<void>;
}
