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
  /**
   * Sessions that were live and are now ended: families with a usable refresh or access token,
   * and signed-in browsers.
   */
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

/** An OAuth client registered with `clients add`, shared by every instance like users. */
export interface ClientRecord {
  clientId: string;
  /** Shown to users on the consent page; null to show the client id. */
  name: string | null;
  /** SHA-256 (hex) of a confidential client's secret; null for a public client. */
  secretHash: string | null;
  /** Where authorization answers may be sent, matched exactly. */
  redirectUris: string[];
  /** Where RP-initiated logout may send the browser back, matched exactly. */
  postLogoutRedirectUris: string[];
  /** First-party clients skip the consent page. */
  firstParty: boolean;
  /** Space-separated scopes the client may ask for. */
  scope: string;
  /** Grant types the client may use at the token endpoint. */
  grantTypes: string[];
  createdAt: UnixSeconds;
}

/**
 * A browser's pending step (sign-in, consent, sign-out) between the page shown and the form
 * posted back: bound to the browser's cookie and to a CSRF token, both stored only as SHA-256.
 */
export interface PendingRequestRecord {
  id: string;
  /** SHA-256 of the cookie of the browser the page was shown to. */
  bindingHash: string;
  /** SHA-256 of the CSRF token the page's form carries. */
  csrfHash: string;
  /** What to do once the form comes back, as JSON (the domain's own shape). */
  action: string;
  createdAt: UnixSeconds;
  expiresAt: UnixSeconds;
}

/** An authorization code as stored: only the SHA-256 of the code itself. */
export interface AuthorizationCodeRecord {
  codeHash: string;
  clientId: string;
  username: string;
  redirectUri: string;
  scope: string;
  /** The PKCE S256 challenge the code verifier must match. */
  codeChallenge: string;
  nonce: string | null;
  /** When the user signed in (OpenID Connect `auth_time`). */
  authTime: UnixSeconds;
  /** The browser session (`sid`) the code was issued in. */
  browserSid: string;
  createdAt: UnixSeconds;
  expiresAt: UnixSeconds;
  /** When it was exchanged; a second exchange is a replay. */
  usedAt: UnixSeconds | null;
  /** The refresh-token family issued from the code, once issued. */
  familyId: string | null;
  /** When a replay was first seen. */
  replayedAt: UnixSeconds | null;
}

/** What happened when an authorization code was presented. */
export type CodeOutcome =
  | { outcome: "redeemed" | "reused" | "expired"; record: AuthorizationCodeRecord }
  | { outcome: "unknown" };

/** A signed-in browser: the cookie names it by a secret of which only the SHA-256 is kept. */
export interface BrowserSessionRecord {
  idHash: string;
  /** The public session id (OpenID Connect `sid`); never the cookie value. */
  sid: string;
  username: string;
  /** When the user entered their password. */
  authTime: UnixSeconds;
  createdAt: UnixSeconds;
  /** Ends here unless used again before (the idle lifetime). */
  idleExpiresAt: UnixSeconds;
  /** Ends here whatever happens (the absolute lifetime). */
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
   * revocation for each whose access tokens may still be accepted, and deletes the user's browser
   * sessions (so no browser signed in before can get a code), in one transaction.
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
   * (with their tokens), expired revocations, stale throttle entries, pending steps, browser
   * sessions (with their family links) and authorization codes well past their expiry.
   */
  pruneExpired(now: UnixSeconds): Promise<void>;

  /** Answers when the database does; for readiness checks. */
  ping(): Promise<void>;

  /** Registers a client; throws StoreFailure `duplicate_client` when the id is taken. */
  addClient(record: ClientRecord): Promise<void>;
  /** Finds a registered client by exact id. */
  getClient(clientId: string): Promise<ClientRecord | undefined>;
  /** Lists registered clients in order of their ids. */
  listClients(): Promise<ClientRecord[]>;
  /** Removes a client and the consents given to it; false when there is no such client. */
  removeClient(clientId: string): Promise<boolean>;
  /** Replaces a confidential client's secret hash; false when there is no such client. */
  setClientSecretHash(clientId: string, secretHash: string): Promise<boolean>;

  /** Lists ID-token signing keys (RS256) that have not retired by `now`, newest first. */
  listIdTokenKeys(now: UnixSeconds): Promise<SigningKeyRecord[]>;
  /** Adds `key` as the ID-token key only when no unretired one exists; returns the current one. */
  ensureIdTokenKey(key: NewSigningKey, now: UnixSeconds): Promise<NewSigningKey>;

  /** Stores a browser's pending step. */
  addPendingRequest(record: PendingRequestRecord): Promise<void>;
  /** Finds a pending step that has not expired by `now`. */
  getPendingRequest(id: string, now: UnixSeconds): Promise<PendingRequestRecord | undefined>;
  /**
   * Atomically removes and returns a pending step that has not expired by `now`; of concurrent
   * callers exactly one gets it.
   */
  takePendingRequest(id: string, now: UnixSeconds): Promise<PendingRequestRecord | undefined>;

  /** Stores a new authorization code. */
  addAuthorizationCode(record: AuthorizationCodeRecord): Promise<void>;
  /**
   * Atomically marks a code used when it is unused and valid at `now` ("redeemed"). A used code
   * is "reused" and gets `replayedAt` (once); an expired one changes nothing.
   */
  useAuthorizationCode(codeHash: string, now: UnixSeconds): Promise<CodeOutcome>;
  /**
   * Records the refresh-token family issued from a redeemed code; answers whether a replay was
   * seen before, atomically with the replay's own marking, so one of the two always knows both.
   */
  attachCodeFamily(codeHash: string, familyId: string): Promise<{ replayed: boolean }>;

  /** Stores a new browser session. */
  addBrowserSession(record: BrowserSessionRecord): Promise<void>;
  /** Finds a browser session by the hash of its cookie, whether or not it has expired. */
  getBrowserSession(idHash: string): Promise<BrowserSessionRecord | undefined>;
  /** Moves a session's idle expiry; false when there is no such session. */
  touchBrowserSession(idHash: string, idleExpiresAt: UnixSeconds): Promise<boolean>;
  /**
   * Records that a refresh-token family was issued in a browser session; false (recording
   * nothing) when the session no longer exists. Atomic with {@linkcode Store.endBrowserSession}.
   */
  linkSessionFamily(sid: string, familyId: string): Promise<boolean>;
  /**
   * Deletes a browser session by its `sid` and returns the families issued in it; undefined when
   * there was no such session. Of concurrent callers exactly one gets the families.
   */
  endBrowserSession(sid: string): Promise<string[] | undefined>;

  /** The scope a user has consented to for a client, if any. */
  getConsent(username: string, clientId: string): Promise<string | undefined>;
  /** Records (replacing) the scope a user has consented to for a client. */
  saveConsent(username: string, clientId: string, scope: string, now: UnixSeconds): Promise<void>;

  /** Releases the store's resources. */
  close(): Promise<void>;
}
