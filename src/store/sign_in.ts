/**
 * @module
 * The sign-in part of the store's contract: a browser's pending steps, authorization codes,
 * browser sessions with the refresh families issued in them, and consents. It declares records
 * and operations only; the backends implement them.
 */
import type { UnixSeconds } from "../clock.ts";

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
  /**
   * The client address (group) a sign-in page was shown to, counted against that address's cap;
   * null for steps that are not counted.
   */
  address: string | null;
  createdAt: UnixSeconds;
  expiresAt: UnixSeconds;
}

/** Whether a pending step was stored, or refused because its address has too many. */
export type PendingAdmission =
  | { added: true }
  | {
    added: false;
    /** When the address's oldest live step expires and so frees a place. */
    freeAt: UnixSeconds;
  };

/** An authorization code as stored: only the SHA-256 of the code itself. */
export interface AuthorizationCodeRecord {
  codeHash: string;
  clientId: string;
  username: string;
  /** The account's subject: the code is redeemed only while the user is that account. */
  subject: string;
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
  /** The refresh family issued from the code, once issued. */
  familyId: string | null;
  /** When a replay was first seen. */
  replayedAt: UnixSeconds | null;
  /** The DPoP key thumbprint the request bound the code to (RFC 9449 §10); null or absent: none. */
  dpopJkt?: string | null;
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
  /** The subject of the account signed in. */
  subject: string;
  /** When the user entered their password. */
  authTime: UnixSeconds;
  createdAt: UnixSeconds;
  /** Ends here unless used again before (the idle lifetime). */
  idleExpiresAt: UnixSeconds;
  /** Ends here whatever happens (the absolute lifetime). */
  expiresAt: UnixSeconds;
}

/** Pending steps, authorization codes, browser sessions and consents. */
export interface SignInStore {
  /**
   * Stores a browser's pending step. With `maxPerAddress` and an `address` on the record, it is
   * stored only while that address has fewer live steps (unexpired at `createdAt`); the count and
   * the insert are one atomic step across every connection, and the address's expired steps are
   * deleted with it.
   */
  addPendingRequest(
    record: PendingRequestRecord,
    maxPerAddress?: number,
  ): Promise<PendingAdmission>;
  /** Finds a pending step that has not expired by `now`. */
  getPendingRequest(id: string, now: UnixSeconds): Promise<PendingRequestRecord | undefined>;
  /**
   * Atomically removes and returns a pending step that has not expired by `now`; of concurrent
   * callers exactly one gets it.
   */
  takePendingRequest(id: string, now: UnixSeconds): Promise<PendingRequestRecord | undefined>;

  /**
   * Stores a new authorization code and, atomically with it, deletes the codes of its browser
   * session that expired by its `createdAt` and, with `maxPerSession`, every code of that session
   * but the newest `maxPerSession` (used or not; the new one counts and is the newest).
   */
  addAuthorizationCode(record: AuthorizationCodeRecord, maxPerSession?: number): Promise<void>;
  /**
   * Atomically marks a code used when it is unused and valid at `now` ("redeemed"). A used code
   * is "reused" and gets `replayedAt` (once); an expired one changes nothing.
   */
  useAuthorizationCode(codeHash: string, now: UnixSeconds): Promise<CodeOutcome>;
  /**
   * Records the refresh family issued from a redeemed code; answers whether a replay was seen
   * before, atomically with the replay's own marking, so one of the two always knows both.
   */
  attachCodeFamily(codeHash: string, familyId: string): Promise<{ replayed: boolean }>;

  /** Stores a new browser session. */
  addBrowserSession(record: BrowserSessionRecord): Promise<void>;
  /** Finds a browser session by the hash of its cookie, whether or not it has expired. */
  getBrowserSession(idHash: string): Promise<BrowserSessionRecord | undefined>;
  /** Moves a session's idle expiry; false when there is no such session. */
  touchBrowserSession(idHash: string, idleExpiresAt: UnixSeconds): Promise<boolean>;
  /**
   * Records that a refresh family was issued in a browser session; false (recording nothing)
   * when the session no longer exists. Atomic with {@linkcode SignInStore.endBrowserSession}.
   */
  linkSessionFamily(sid: string, familyId: string): Promise<boolean>;
  /**
   * Deletes a browser session by its `sid` and returns the families issued in it; undefined when
   * there was no such session. Of concurrent callers exactly one gets the families.
   */
  endBrowserSession(sid: string): Promise<string[] | undefined>;

  /**
   * The scope an account (by subject, so that no later account of the same name inherits it) has
   * consented to for a client, if any.
   */
  getConsent(subject: string, clientId: string): Promise<string | undefined>;
  /** Records (replacing) the scope an account (by subject) has consented to for a client. */
  saveConsent(subject: string, clientId: string, scope: string, now: UnixSeconds): Promise<void>;
}
