/**
 * @module
 * The accounts part of the store's contract, its second factors: each account's authenticator-app
 * secret (TOTP, RFC 6238) with the last time step it accepted, its recovery codes (only their
 * SHA-256), and how each browser session and code was signed in (`amr`). It declares records and
 * operations only; the backends implement them, each one-time use as a single atomic statement.
 */
import type { UnixSeconds } from "../clock.ts";

/** An account's authenticator-app factor; it counts only once confirmed. */
export interface TotpFactorRecord {
  username: string;
  /** The shared secret, base32. */
  secret: string;
  createdAt: UnixSeconds;
  /** When a first code confirmed it; null while enrolment is pending. */
  confirmedAt: UnixSeconds | null;
  /** The last time step a code was accepted for; a code of this step or an earlier never again. */
  lastStep: number | null;
}

/** Authenticator secrets, recovery codes and the methods sessions were signed in with. */
export interface SecondFactorStore {
  /**
   * Starts an enrolment: stores `secret` unconfirmed, replacing an unconfirmed one; false (and
   * nothing stored) when the user has a confirmed factor or does not exist.
   */
  startTotpEnrolment(username: string, secret: string, now: UnixSeconds): Promise<boolean>;
  /** The user's authenticator factor, confirmed or not. */
  getTotpFactor(username: string): Promise<TotpFactorRecord | undefined>;
  /**
   * Atomically accepts a code's time `step` for the factor with `secret`: only when `step` is
   * later than the last accepted one, so of two concurrent uses of one code at most one wins.
   * An unconfirmed factor becomes confirmed (`confirming`), a confirmed one is only used.
   */
  acceptTotpStep(
    username: string,
    secret: string,
    step: number,
    options: { confirming: boolean; now: UnixSeconds },
  ): Promise<boolean>;
  /** Replaces the user's recovery codes by these SHA-256 hashes. */
  replaceRecoveryCodes(username: string, codeHashes: string[], now: UnixSeconds): Promise<void>;
  /** Atomically marks an unused recovery code used; false when it is unknown or was used. */
  useRecoveryCode(username: string, codeHash: string, now: UnixSeconds): Promise<boolean>;
  /** How many unused recovery codes the user has. */
  countRecoveryCodes(username: string): Promise<number>;
  /** Removes the user's authenticator factor and recovery codes; false when there was none. */
  removeSecondFactors(username: string): Promise<boolean>;

  /** Records how a browser session was signed in (RFC 8176 `amr` values). */
  setSessionMethods(sid: string, amr: string[]): Promise<void>;
  /** How a browser session was signed in; `["pwd"]` when nothing was recorded. */
  getSessionMethods(sid: string): Promise<string[]>;
}
