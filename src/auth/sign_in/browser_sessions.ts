/**
 * @module
 * Signed-in browsers: a server-side session named by a random cookie (kept only as SHA-256),
 * with idle and absolute lifetimes, a new id at every sign-in (no fixation), and the
 * refresh-token families issued in it, which end with it. It never reads a request.
 */
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { BrowserSessionRecord, SignInStore } from "../../store/sign_in.ts";
import type { SecondFactorStore } from "../../store/second_factors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import { isSecretShaped, randomSecret, sha256Hex } from "../secrets.ts";
import type { RefreshFamilies } from "../tokens/refresh_families.ts";

/** Lifetimes of browser sessions. */
export interface BrowserSessionOptions {
  /** A session unused for this long ends. */
  idleSeconds: number;
  /** A session ends this long after sign-in, used or not. */
  maxSeconds: number;
}

/** The lifetimes used when none are configured (Keycloak's SSO defaults). */
export const DEFAULT_BROWSER_SESSION: Readonly<BrowserSessionOptions> = {
  idleSeconds: 30 * 60,
  maxSeconds: 10 * 60 * 60,
};

/** A signed-in browser. */
export interface BrowserSession {
  /** The public session id (`sid` of ID tokens). */
  sid: string;
  username: string;
  /** The subject of the account signed in. */
  subject: string;
  authTime: UnixSeconds;
}

/** What browser sessions keep: the sessions and how each was signed in. */
type SessionStore =
  & SignInStore
  & Pick<SecondFactorStore, "setSessionMethods" | "getSessionMethods">;

/**
 * Browser sessions.
 *
 * @example
 * ```ts
 * const { cookie, session } = await browserSessions.signIn(verifiedUser, oldCookie);
 * await browserSessions.current(cookie); // the session, until it idles out or ends
 * ```
 */
export class BrowserSessions {
  #store: SessionStore;
  #families: RefreshFamilies;
  #events: SecurityEvents;
  readonly options: Readonly<BrowserSessionOptions>;

  constructor(
    deps: { store: SessionStore; families: RefreshFamilies; events?: SecurityEvents },
    options: BrowserSessionOptions,
  ) {
    this.#store = deps.store;
    this.#families = deps.families;
    this.#events = deps.events ?? UNRECORDED;
    this.options = options;
  }

  /** The live session a cookie names, its idle lifetime renewed; undefined for any other. */
  async current(cookie: string | undefined): Promise<BrowserSession | undefined> {
    const record = await this.#find(cookie);
    if (!record) return undefined;
    const now = unixNow();
    const idleExpiresAt = Math.min(now + this.options.idleSeconds, record.expiresAt);
    if (idleExpiresAt > record.idleExpiresAt) {
      await this.#store.touchBrowserSession(record.idHash, idleExpiresAt);
    }
    return sessionOf(record);
  }

  /**
   * Starts a session for a user who just entered their password (and a second factor: `amr`),
   * under a new cookie whatever the browser held before. A previous session of the same account
   * hands its families over; one of another account (even of the same name) ends.
   */
  async signIn(
    user: { username: string; subject: string },
    previousCookie: string | undefined,
    amr: readonly string[] = ["pwd"],
  ): Promise<{ cookie: string; session: BrowserSession }> {
    const now = unixNow();
    const cookie = randomSecret();
    const record: BrowserSessionRecord = {
      idHash: await sha256Hex(cookie),
      sid: crypto.randomUUID(),
      username: user.username,
      subject: user.subject,
      authTime: now,
      createdAt: now,
      idleExpiresAt: now + Math.min(this.options.idleSeconds, this.options.maxSeconds),
      expiresAt: now + this.options.maxSeconds,
    };
    await this.#store.addBrowserSession(record);
    if (amr.join(" ") !== "pwd") await this.#store.setSessionMethods(record.sid, [...amr]);
    const previous = await this.#find(previousCookie);
    if (previous?.subject === user.subject) {
      for (const familyId of await this.#store.endBrowserSession(previous.sid) ?? []) {
        if (!await this.#store.linkSessionFamily(record.sid, familyId)) {
          await this.#families.revokeFamily(familyId);
        }
      }
    } else if (previous) {
      await this.end(previous.sid);
    }
    return { cookie, session: sessionOf(record) };
  }

  /** Records that a session's user has just also given these methods (RFC 8176 `amr`). */
  async recordMethods(sid: string, amr: readonly string[]): Promise<void> {
    await this.#store.setSessionMethods(sid, [...amr]);
  }

  /** How a session was signed in (RFC 8176 `amr` values). */
  async methods(sid: string): Promise<string[]> {
    return await this.#store.getSessionMethods(sid);
  }

  /**
   * Records a refresh-token family issued in a session; false when the session has ended, in
   * which case the family must not live on.
   */
  async linkFamily(sid: string, familyId: string): Promise<boolean> {
    return await this.#store.linkSessionFamily(sid, familyId);
  }

  /**
   * Ends a session and revokes every family issued in it; false when it had already ended. With
   * `signedOut` (a user's sign-out, not a new sign-in) the end goes to the audit trail.
   */
  async end(
    sid: string,
    signedOut?: { subject: string; client?: string; origin?: Origin },
  ): Promise<boolean> {
    const families = await this.#store.endBrowserSession(sid);
    for (const familyId of families ?? []) await this.#families.revokeFamily(familyId);
    if (families !== undefined && signedOut) {
      const { origin, ...about } = signedOut;
      this.#events.record({ event: "browser_signed_out", ...about, sid }, origin);
    }
    return families !== undefined;
  }

  async #find(cookie: string | undefined): Promise<BrowserSessionRecord | undefined> {
    if (!isSecretShaped(cookie)) return undefined;
    const record = await this.#store.getBrowserSession(await sha256Hex(cookie));
    const now = unixNow();
    return record && record.idleExpiresAt > now && record.expiresAt > now ? record : undefined;
  }
}

function sessionOf(record: BrowserSessionRecord): BrowserSession {
  const { sid, username, subject, authTime } = record;
  return { sid, username, subject, authTime };
}
