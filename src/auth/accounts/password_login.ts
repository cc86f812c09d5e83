/**
 * @module
 * Checking a username and password, shared by `/login` and the OAuth password grant: throttling
 * (reserved before any hash), one hash whichever part is wrong, device tokens, and upgrading old
 * hashes, and refusing accounts with a second factor where no second step follows. It answers
 * with the verified user or an {@linkcode AuthFailure}; it never builds a response.
 */
import type { AccountStore } from "../../store/accounts.ts";
import { MAX_PASSWORD_LENGTH, usernameProblem } from "./credentials.ts";
import type { DeviceTokens } from "./device_tokens.ts";
import { AuthFailure, invalidCredentials } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import type { Passwords } from "./passwords.ts";
import type { LoginThrottle } from "./throttle.ts";

/** Where a login comes from. */
export interface LoginSource {
  /** The client address budgets count against (the address, or its IPv6 prefix). */
  address: string;
  /** A device token the client presented, if any; anything that is not a valid one is ignored. */
  deviceToken?: unknown;
  /**
   * What the client says it is (its User-Agent), the name a new device is remembered by. Without
   * it no device token is issued (a check of the current password, for example).
   */
  deviceLabel?: string;
  /** The OAuth client the login is for, for the audit trail. */
  clientId?: string;
  /** Where the request came from, for the audit trail. */
  origin?: Origin;
  /**
   * Whether the caller asks for the second factor next (the browser flow); every other way in
   * refuses an account that has one with `mfa_required`.
   */
  secondFactorNext?: boolean;
}

/** A device token handed to a client, and how many seconds it lasts. */
export interface IssuedDevice {
  token: string;
  maxAgeSeconds: number;
}

/** A successful login. */
export interface LoginSuccess extends VerifiedUser {
  /** A fresh device token for this client and user, when the source named its device. */
  device?: IssuedDevice;
}

/**
 * A user whose password was just checked, with the stored hash it matched (after any upgrade):
 * a refresh family starts only while that hash is still the user's.
 */
export interface VerifiedUser {
  username: string;
  /** The account's subject, the `sub` of its tokens. */
  subject: string;
  passwordHash: string;
}

/**
 * Checks credentials: an attempt is admitted by the throttle first (refused ones hash nothing)
 * and reported to it afterwards, then one PBKDF2 run whichever part is wrong, so answers do not
 * tell which usernames exist. Hashes made with older parameters are upgraded, unless the
 * password changed meanwhile. A name no user could have (control characters, NUL, broken
 * Unicode) counts as an unknown user and never reaches the store.
 */
export class PasswordLogin {
  #store: AccountStore;
  #hasher: Passwords;
  #throttle: LoginThrottle;
  #devices: DeviceTokens;
  #events: SecurityEvents;
  #onUnusableHash: (username: string, problem: string) => void;
  #secondFactors?: { required(username: string): Promise<boolean> };
  /** Stored strings already reported, so that each is reported once, not at every attempt. */
  #reported = new Set<string>();

  constructor(deps: {
    store: AccountStore;
    hasher: Passwords;
    throttle: LoginThrottle;
    devices: DeviceTokens;
    /** Where successes, failures and throttling are reported. */
    events?: SecurityEvents;
    /** Told once about each stored hash that cannot be checked (the login fails). */
    onUnusableHash?: (username: string, problem: string) => void;
    /** Which accounts have a second factor; none when absent. */
    secondFactors?: { required(username: string): Promise<boolean> };
  }) {
    this.#secondFactors = deps.secondFactors;
    this.#store = deps.store;
    this.#hasher = deps.hasher;
    this.#throttle = deps.throttle;
    this.#devices = deps.devices;
    this.#events = deps.events ?? UNRECORDED;
    this.#onUnusableHash = deps.onUnusableHash ?? (() => {});
  }

  /**
   * Returns the user and a device token when the credentials are right; throws AuthFailure
   * `invalid_credentials` or `throttled` otherwise.
   */
  async check(username: unknown, password: unknown, source: LoginSource): Promise<LoginSuccess> {
    const name = typeof username === "string" && !usernameProblem(username) ? username : "";
    const deviceId = name && typeof source.deviceToken === "string"
      ? await this.#devices.verify(source.deviceToken, name)
      : undefined;
    const about = { subject: name, client: source.clientId };
    const attempt = await this.#throttle.admit({
      username: name,
      address: source.address,
      deviceId,
    }).catch((error) => {
      if (error instanceof AuthFailure && error.code === "throttled") {
        const reason = error.reason;
        this.#events.record({ event: "login_throttled", ...about, reason }, source.origin);
      }
      throw error;
    });
    const secret = isField(password, MAX_PASSWORD_LENGTH) ? password : "";
    let user, check;
    try {
      ({ user, check } = await this.#checkPassword(name, secret));
    } catch (error) {
      // No answer about the password came of it: the attempt counts for nothing.
      await this.#throttle.withdrawn(attempt).catch(() => {});
      throw error;
    }
    if (!user || !check.ok) {
      const closed = await this.#throttle.failed(attempt);
      this.#events.record({ event: "login_failed", ...about }, source.origin);
      for (const reason of closed) {
        this.#events.record({ event: "throttle_entered", ...about, reason }, source.origin);
      }
      throw invalidCredentials();
    }
    await this.#throttle.succeeded(attempt);
    if (!source.secondFactorNext && await this.#secondFactors?.required(name)) {
      this.#events.record(
        { event: "login_failed", ...about, reason: "mfa_required" },
        source.origin,
      );
      throw new AuthFailure(
        "mfa_required",
        "This account has a second factor: sign in through the browser",
      );
    }
    this.#events.record({ event: "login_succeeded", ...about }, source.origin);
    let passwordHash = user.passwordHash;
    if (check.needsRehash) {
      // Only while the stored hash is the one just checked: a `user passwd` that ran meanwhile
      // must not be undone by an upgrade of the old password (and then no refresh family starts).
      const upgraded = await this.#hasher.hash(secret);
      if (await this.#store.replacePasswordHash(name, user.passwordHash, upgraded)) {
        passwordHash = upgraded;
      }
    }
    // A device whose own budget was spent starts over as a new device.
    const device = attempt.budget === "device" ? attempt.deviceId : undefined;
    return {
      username: name,
      subject: user.subject,
      passwordHash,
      device: source.deviceLabel === undefined ? undefined : {
        token: await this.#devices.issue(name, { deviceId: device, label: source.deviceLabel }),
        maxAgeSeconds: this.#devices.options.ttlSeconds,
      },
    };
  }

  /** One PBKDF2 run whichever part is wrong: against the user's hash, or a dummy one. */
  async #checkPassword(name: string, secret: string) {
    const user = name ? await this.#store.getUser(name) : undefined;
    let check = { ok: false, needsRehash: false };
    if (user && secret) {
      const result = await this.#hasher.verify(secret, user.passwordHash);
      if (result.unusable !== undefined) {
        this.#report(name, user.passwordHash, result.unusable);
        await this.#hasher.verifyDummy(secret); // the same time as a real check
      }
      check = result;
    } else {
      await this.#hasher.verifyDummy(secret);
    }
    return { user, check };
  }

  #report(username: string, stored: string, problem: string): void {
    if (this.#reported.has(stored)) return;
    this.#reported.add(stored);
    this.#onUnusableHash(username, problem);
  }
}

function isField(value: unknown, maxLength: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= maxLength;
}
