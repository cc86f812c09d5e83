/**
 * @module
 * A person's second factor: enrolling an authenticator app (confirmed by one code before it
 * counts), checking codes (each time step at most once, recovery codes once each), the ten recovery
 * codes. Every check goes through the login throttle as a password does (admitted, then reported):
 * a wrong code is a failure on the address's budget, shared with passwords, and on a code budget of
 * its own per account, which a right password does not refill. It answers with values or an
 * {@linkcode AuthFailure}; it never builds a response.
 */
import { unixNow } from "../../clock.ts";
import type { SecondFactorStore } from "../../store/second_factors.ts";
import { AuthFailure } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import { newRecoveryCodes, recoveryCodeHash } from "./recovery_codes.ts";
import { IN_FLIGHT, type LoginThrottle } from "./throttle.ts";
import { matchingStep, newTotpSecret, totpUri } from "./totp.ts";

/**
 * Prefix of the throttle's account key for second-factor checks: names never hold control
 * characters (credentials.ts), so no user's own key can be one of these.
 */
const CODE_BUDGET_PREFIX = "\u001fsecond-factor\u001f";

/** RFC 8176 methods of a sign-in with a password and a code. */
export const PASSWORD_AND_CODE_AMR: readonly string[] = ["pwd", "otp", "mfa"];

/** Where a code check comes from, for the throttle and the audit trail. */
export interface CodeSource {
  /** The client address budgets count against (the address, or its IPv6 prefix). */
  address: string;
  origin?: Origin;
}

/** What a person's second factor looks like. */
export interface SecondFactorStatus {
  /** Whether a second factor is enrolled (and so required): an authenticator app or a passkey. */
  enrolled: boolean;
  /** Whether an authenticator app is set up. */
  authenticatorApp: boolean;
  /** Unused recovery codes. */
  recoveryCodesLeft: number;
}

/** An enrolment waiting for its first code. */
export interface PendingEnrolment {
  /** The secret in base32, for typing into an app. */
  secret: string;
  /** The `otpauth://` URI, for the QR code. */
  uri: string;
}

/**
 * Second factors.
 *
 * @example
 * ```ts
 * const { uri } = await factors.startEnrolment("alice");
 * const codes = await factors.confirmEnrolment("alice", "123456", { address });
 * await factors.verify("alice", "654321", { address }); // at a later sign-in
 * ```
 */
export class SecondFactors {
  #store: SecondFactorStore;
  #throttle: LoginThrottle;
  #events: SecurityEvents;
  #issuer: string;
  #passkeys?: { has(username: string): Promise<boolean> };

  constructor(deps: {
    store: SecondFactorStore;
    throttle: LoginThrottle;
    events?: SecurityEvents;
    /** The name apps show for the account (the service's issuer). */
    issuer: string;
    /** Passkeys, which count as a second factor too. */
    passkeys?: { has(username: string): Promise<boolean> };
  }) {
    this.#store = deps.store;
    this.#throttle = deps.throttle;
    this.#events = deps.events ?? UNRECORDED;
    this.#issuer = deps.issuer;
    this.#passkeys = deps.passkeys;
  }

  /**
   * Whether the user must give a second factor after the password: an authenticator app or a
   * passkey is set up.
   */
  async required(username: string): Promise<boolean> {
    return await this.hasAuthenticatorApp(username) || await this.#passkeys?.has(username) === true;
  }

  /** Whether the user has a confirmed authenticator app. */
  async hasAuthenticatorApp(username: string): Promise<boolean> {
    const factor = await this.#store.getTotpFactor(username);
    return factor?.confirmedAt != null;
  }

  /** The user's second factor as the account page shows it. */
  async status(username: string): Promise<SecondFactorStatus> {
    return {
      enrolled: await this.required(username),
      authenticatorApp: await this.hasAuthenticatorApp(username),
      recoveryCodesLeft: await this.#store.countRecoveryCodes(username),
    };
  }

  /**
   * Starts (or starts over) enrolling an authenticator app; `already_enrolled`-style refusal as
   * `invalid_request` when one is enrolled, since a second would silently replace it.
   */
  async startEnrolment(username: string): Promise<PendingEnrolment> {
    const secret = newTotpSecret();
    if (!await this.#store.startTotpEnrolment(username, secret, unixNow())) {
      throw new AuthFailure("invalid_request", "An authenticator app is already set up");
    }
    return { secret, uri: totpUri(secret, { issuer: this.#issuer, account: username }) };
  }

  /**
   * The pending enrolment's URI and secret again (for the page shown after a wrong code);
   * undefined when there is none.
   */
  async pendingEnrolment(username: string): Promise<PendingEnrolment | undefined> {
    const factor = await this.#store.getTotpFactor(username);
    if (!factor || factor.confirmedAt !== null) return undefined;
    const uri = totpUri(factor.secret, { issuer: this.#issuer, account: username });
    return { secret: factor.secret, uri };
  }

  /**
   * Confirms the pending enrolment with a code from the app; from then on the factor is
   * required. Returns the first set of recovery codes, to be shown once. A wrong code throws
   * `invalid_code` (and counts on the throttle).
   */
  async confirmEnrolment(username: string, code: string, source: CodeSource): Promise<string[]> {
    await this.#checked(username, source, async (now) => {
      const factor = await this.#store.getTotpFactor(username);
      if (!factor || factor.confirmedAt !== null) return false;
      const step = matchingStep(factor.secret, code.trim(), now);
      return step !== undefined &&
        await this.#store.acceptTotpStep(username, factor.secret, step, { confirming: true, now });
    });
    this.#events.record({ event: "second_factor_enrolled", subject: username }, source.origin);
    return await this.regenerateRecoveryCodes(username, source);
  }

  /**
   * Checks a code from the app, or an unused recovery code, for a user with a confirmed factor:
   * a code is accepted for a time step later than any accepted before, so the same code never
   * twice. Throws `invalid_code` or `throttled`.
   */
  async verify(username: string, code: string, source: CodeSource): Promise<void> {
    await this.#checked(username, source, async (now) => {
      const factor = await this.#store.getTotpFactor(username);
      if (!factor || factor.confirmedAt === null) return false;
      const typed = code.trim();
      const step = matchingStep(factor.secret, typed, now);
      if (step !== undefined) {
        return await this.#store.acceptTotpStep(username, factor.secret, step, {
          confirming: false,
          now,
        });
      }
      const hash = await recoveryCodeHash(typed);
      if (!hash || !await this.#store.useRecoveryCode(username, hash, now)) return false;
      this.#events.record({ event: "recovery_code_used", subject: username }, source.origin);
      return true;
    });
    this.#events.record({ event: "second_factor_succeeded", subject: username }, source.origin);
  }

  /** A new set of recovery codes replacing the old, to be shown once. */
  async regenerateRecoveryCodes(username: string, source?: CodeSource): Promise<string[]> {
    const codes = newRecoveryCodes();
    const hashes = await Promise.all(codes.map(async (code) => (await recoveryCodeHash(code))!));
    await this.#store.replaceRecoveryCodes(username, hashes, unixNow());
    this.#events.record(
      { event: "recovery_codes_generated", subject: username },
      source?.origin,
    );
    return codes;
  }

  /**
   * Runs `check` as one throttled attempt, admitted as a password is (waiting while attempts in
   * flight hold every place): a wrong code (`check` answers false) counts as a failure on the
   * code budget of the account and on the address's, shared with passwords; a right one gives
   * the places back and forgets the account's code failures; a check that breaks off counts
   * nothing.
   */
  async #checked(
    username: string,
    source: CodeSource,
    check: (now: number) => Promise<boolean>,
  ): Promise<void> {
    const about = { subject: username };
    const attempt = await this.#throttle.admit({
      username: CODE_BUDGET_PREFIX + username,
      address: source.address,
    }).catch((error) => {
      if (error instanceof AuthFailure && error.code === "throttled") {
        const reason = error.reason === IN_FLIGHT ? IN_FLIGHT : "second_factor";
        this.#events.record({ event: "login_throttled", ...about, reason }, source.origin);
      }
      throw error;
    });
    let right;
    try {
      right = await check(unixNow());
    } catch (error) {
      await this.#throttle.withdrawn(attempt).catch(() => {});
      throw error;
    }
    if (!right) {
      const closed = await this.#throttle.failed(attempt);
      this.#events.record({ event: "second_factor_failed", ...about }, source.origin);
      for (const reason of closed) {
        this.#events.record({ event: "throttle_entered", ...about, reason }, source.origin);
      }
      throw new AuthFailure("invalid_code", "Invalid code");
    }
    await this.#throttle.succeeded(attempt);
  }
}
