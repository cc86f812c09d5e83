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

/** Failure counter for one throttling key (an account, a client address or a device). */
export interface ThrottleRecord {
  failures: number;
  /** Start of the current counting window. */
  windowStartAt: UnixSeconds;
  /** Until when attempts are refused; 0 when not blocked. */
  blockedUntil: UnixSeconds;
}

/** What a throttle decision stores (a record, or null to forget the key) and returns. */
export interface ThrottleDecision<T> {
  writes: Record<string, ThrottleRecord | null>;
  result: T;
}

/**
 * A login session: the family of refresh tokens descended from one login. Its row is the one
 * place its state lives, and every change to the family (rotation, revocation) locks it first.
 */
export interface RefreshFamilyRecord {
  /** The family's id, also the access tokens' `sid`. */
  id: string;
  username: string;
  clientId: string;
  /** The login. */
  createdAt: UnixSeconds;
  /** Absolute end of the session: no token of the family is valid at or after it. */
  expiresAt: UnixSeconds;
  /**
   * Until when access tokens minted for this family may be accepted (their `exp` plus the
   * leeway): a revocation of the family must be remembered that long.
   */
  accessExpiresAt: UnixSeconds;
  /** When the family was revoked (logout, reuse, account change); null while it lives. */
  revokedAt: UnixSeconds | null;
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

/** What an account change did to the user's sessions. */
export interface AccountChange {
  /** False when there is no such user (then nothing changed). */
  found: boolean;
  /** Sessions that were live (a usable refresh token or access token) and are now revoked. */
  sessionsEnded: number;
}

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
   * Replaces a user's password hash only while it is still `expected`, without touching sessions
   * (an upgrade of the same password, which must never undo a concurrent change); false when it
   * was not replaced.
   */
  replacePasswordHash(username: string, expected: string, passwordHash: string): Promise<boolean>;
  /**
   * Sets a new password (the user is no longer a demo user) and, in the same transaction, ends
   * every session of the user.
   */
  changePassword(username: string, passwordHash: string, now: UnixSeconds): Promise<AccountChange>;
  /** Removes a user and, in the same transaction, ends every session of the user. */
  removeUser(username: string, now: UnixSeconds): Promise<AccountChange>;
  /**
   * Ends every session of a user: revokes each family not yet revoked and records a `sid`
   * revocation for each whose access tokens may still be accepted, in one transaction.
   */
  endUserSessions(username: string, now: UnixSeconds): Promise<AccountChange>;
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

  /**
   * The one atomic step of login throttling: reads the state of `keys` (a key without state is
   * absent from the map), lets `decide` choose what to store, stores it and returns `decide`'s
   * result. No other call on any of these keys, from this process or another, runs in between.
   * `decide` is synchronous and runs once; its writes may name only `keys`. When it throws,
   * nothing is stored.
   */
  updateThrottles<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, ThrottleRecord>) => ThrottleDecision<T>,
  ): Promise<T>;

  /** Stores `candidate` as the secret `name` unless one exists; returns the stored secret. */
  ensureSecret(name: string, candidate: string): Promise<string>;

  /**
   * Starts a session: inserts the family and its first token, only while `passwordHash` is still
   * the user's (the one the login was checked against). False, with nothing stored, when the
   * user was removed or their password changed meanwhile.
   */
  startRefreshFamily(
    family: RefreshFamilyRecord,
    token: RefreshTokenRecord,
    passwordHash: string,
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

  /** Records a revocation (idempotent for the same kind and id). */
  addRevocation(kind: RevocationRecord["kind"], id: string, expiresAt: UnixSeconds): Promise<void>;
  /** Lists revocations with `seq` above `afterSeq` that have not expired by `now`. */
  listRevocations(afterSeq: number, now: UnixSeconds): Promise<RevocationRecord[]>;
  /**
   * Deletes expired refresh tokens, families past both their expiry and their access tokens'
   * (with their tokens), expired revocations and stale throttle entries.
   */
  pruneExpired(now: UnixSeconds): Promise<void>;

  /** Answers when the database does; for readiness checks. */
  ping(): Promise<void>;
  /** Releases the store's resources. */
  close(): Promise<void>;
}
