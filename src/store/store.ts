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

/** A JWT signing key as stored. */
export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /** Private (or symmetric) key as a JWK JSON string. */
  privateJwk: string;
  /** Public key as a JWK JSON string; empty for symmetric keys. */
  publicJwk: string;
  createdAt: UnixSeconds;
  /** When this key stops verifying; null while it is the current key. */
  retiresAt: UnixSeconds | null;
}

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
  /** Adds a user; throws StoreFailure `duplicate_user` when the name is taken. */
  addUser(username: string, passwordHash: string): Promise<void>;
  /** Replaces a user's password hash; false when there is no such user. */
  setPasswordHash(username: string, passwordHash: string): Promise<boolean>;
  /** Removes a user; false when there is no such user. */
  removeUser(username: string): Promise<boolean>;
  /** Lists user names in alphabetical order. */
  listUsers(): Promise<string[]>;

  /** Lists signing keys that have not retired by `now` (Unix seconds), newest first. */
  listSigningKeys(now: UnixSeconds): Promise<SigningKeyRecord[]>;
  /**
   * Makes `key` the current signing key: keys still current retire at `retireOthersAt`, and keys
   * retired before `now` are deleted. Atomic.
   */
  rotateSigningKey(
    key: SigningKeyRecord,
    retireOthersAt: UnixSeconds,
    now: UnixSeconds,
  ): Promise<void>;
  /** Adds `key` as the current key only when no unretired key exists; returns the current key. */
  ensureSigningKey(key: SigningKeyRecord, now: UnixSeconds): Promise<SigningKeyRecord>;

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
  /**
   * Deletes expired refresh tokens, revocations, stale throttle entries, pending steps, browser
   * sessions (with their family links) and authorization codes well past their expiry.
   */
  pruneExpired(now: UnixSeconds): Promise<void>;

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
  ensureIdTokenKey(key: SigningKeyRecord, now: UnixSeconds): Promise<SigningKeyRecord>;

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
