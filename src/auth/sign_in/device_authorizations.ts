/**
 * @module
 * The device authorization grant (RFC 8628) on the token side: issuing a device code and its user
 * code to a client (§3.1-3.2), recording the person's answer, and answering the device's polls
 * (§3.4-3.5) until it gets its tokens, once. Only hashes of the codes are stored. Tokens are
 * issued as for an authorization code: a refresh family started on the account and linked to the
 * browser session that approved (so an account change, or signing out there, ends them too), and
 * an ID token for scope `openid`. It speaks in domain errors and never builds a response.
 */
import { unixNow } from "../../clock.ts";
import type { AccountStore } from "../../store/accounts.ts";
import type {
  DeviceAuthorizationRecord,
  DeviceAuthorizationStore,
} from "../../store/device_authorizations.ts";
import { DEVICE_CODE_GRANT, type GrantResult, requireGrant } from "../clients/grants.ts";
import type { ClientIdentity } from "../clients/registry.ts";
import { AuthFailure, invalidGrant, tooManyWaiting } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import { grantScope, type ScopePolicy } from "../scopes.ts";
import { isSecretShaped, randomSecret, sha256Hex } from "../secrets.ts";
import type { DpopBinding, RefreshFamilies } from "../tokens/refresh_families.ts";
import type { BrowserSession, BrowserSessions } from "./browser_sessions.ts";
import type { IdTokens } from "./id_tokens.ts";
import { signedInGrant, type SignedInIssuing, startSignedInFamily } from "./signed_in_tokens.ts";
import { MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS } from "./pushed_requests.ts";
import { newUserCode } from "./user_codes.ts";

/** How long a device code and its user code live (RFC 8628 §3.2 `expires_in`). */
export const DEVICE_CODE_TTL_SECONDS = 10 * 60;
/** Seconds a device waits between polls at first (RFC 8628 §3.2 `interval`). */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;
/**
 * The most waiting device codes (pending or approved, unexpired) one client address (group) may
 * hold for public clients, which anyone may name: the same figure, and the same rule, as for
 * unauthenticated pushed requests. Confidential clients, which prove their secret, are not counted.
 */
export const MAX_UNAUTHENTICATED_DEVICE_CODES_PER_ADDRESS = MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS;
/** Tries at a user code no stored authorization has (a clash is one in ~10¹⁰). */
const USER_CODE_ATTEMPTS = 5;

/** What a client is given to start a device flow. */
export interface IssuedDeviceCode {
  deviceCode: string;
  /** The user code in its normal form (format it for people with `formatUserCode`). */
  userCode: string;
  expiresIn: number;
  interval: number;
}

/** What device authorizations need. */
export interface DeviceAuthorizationDeps {
  store: AccountStore & DeviceAuthorizationStore;
  families: RefreshFamilies;
  idTokens: IdTokens;
  browserSessions: BrowserSessions;
  /** Scopes, with `openid` and `profile`. */
  policy: ScopePolicy;
  events?: SecurityEvents;
}

/**
 * Device codes: issued to clients, answered by people, polled by devices.
 *
 * @example
 * ```ts
 * const issued = await devices.issue(client, "openid hello");
 * const grant = await devices.redeem(issued.deviceCode, { client }); // once approved
 * ```
 */
export class DeviceAuthorizations {
  #deps: DeviceAuthorizationDeps;

  constructor(deps: DeviceAuthorizationDeps) {
    this.#deps = deps;
  }

  /**
   * A new device code and user code for a client registered for the grant, for `requested`
   * scopes decided as every grant's are. A public client's code counts against the client address
   * (group) `address`: beyond {@linkcode MAX_UNAUTHENTICATED_DEVICE_CODES_PER_ADDRESS} waiting
   * ones, `too_many_sign_ins`.
   */
  async issue(
    client: ClientIdentity,
    requested: string | undefined,
    { origin, address }: { origin?: Origin; address?: string } = {},
  ): Promise<IssuedDeviceCode> {
    requireGrant(client, DEVICE_CODE_GRANT);
    const scope = grantScope(requested, this.#deps.policy, {
      registered: client.registered!.scope,
    });
    const counted = !client.authenticated && address !== undefined;
    const deviceCode = randomSecret();
    const deviceCodeHash = await sha256Hex(deviceCode);
    for (let attempt = 0; attempt < USER_CODE_ATTEMPTS; attempt++) {
      const userCode = newUserCode();
      const now = unixNow();
      const admission = await this.#deps.store.addDeviceAuthorization({
        deviceCodeHash,
        userCodeHash: await sha256Hex(userCode),
        clientId: client.clientId,
        scope,
        createdAt: now,
        expiresAt: now + DEVICE_CODE_TTL_SECONDS,
        intervalSeconds: DEVICE_POLL_INTERVAL_SECONDS,
        lastPolledAt: null,
        status: "pending",
        username: null,
        subject: null,
        browserSid: null,
        authTime: null,
        decidedAt: null,
        address: counted ? address : null,
      }, counted ? MAX_UNAUTHENTICATED_DEVICE_CODES_PER_ADDRESS : undefined);
      if (!admission.added && "freeAt" in admission) {
        const reason = "too_many_sign_ins";
        this.#record({ event: "device_code_refused", client: client.clientId, reason }, origin);
        throw tooManyWaiting(
          "Too many device codes from your network are waiting to be used; try again later",
          admission.freeAt,
          now,
        );
      }
      if (admission.added) {
        this.#record({ event: "device_code_issued", client: client.clientId }, origin);
        return {
          deviceCode,
          userCode,
          expiresIn: DEVICE_CODE_TTL_SECONDS,
          interval: DEVICE_POLL_INTERVAL_SECONDS,
        };
      }
    }
    throw new Error("No free user code was found");
  }

  /** The pending, unexpired authorization of a user code in its normal form, if any. */
  async pending(userCode: string): Promise<DeviceAuthorizationRecord | undefined> {
    return await this.#deps.store.findPendingDeviceAuthorization(
      await sha256Hex(userCode),
      unixNow(),
    );
  }

  /**
   * Records the answer of the person signed in as `session` to the authorization keyed by
   * `deviceCodeHash`; `expired_request` when it was answered already or has expired.
   */
  async decide(
    deviceCodeHash: string,
    session: BrowserSession,
    answer: { approved: boolean; clientId: string; origin?: Origin },
  ): Promise<void> {
    const who = { username: session.username, subject: session.subject };
    const decision = answer.approved
      ? { approved: true as const, ...who, browserSid: session.sid, authTime: session.authTime }
      : { approved: false as const, ...who };
    if (!await this.#deps.store.decideDeviceAuthorization(deviceCodeHash, decision, unixNow())) {
      throw new AuthFailure(
        "expired_request",
        "This code has expired or was already answered; start again on your device",
      );
    }
    this.#record({
      event: answer.approved ? "device_code_approved" : "device_code_denied",
      subject: session.username,
      client: answer.clientId,
    }, answer.origin);
  }

  /**
   * One poll of the token endpoint (RFC 8628 §3.4): the tokens, once, after approval; else
   * `authorization_pending`, `slow_down`, `access_denied`, `expired_token` or `invalid_grant`.
   */
  async redeem(
    deviceCode: string | undefined,
    exchange: { client: ClientIdentity; origin?: Origin; dpop?: DpopBinding },
  ): Promise<GrantResult> {
    const { client, origin } = exchange;
    requireGrant(client, DEVICE_CODE_GRANT);
    if (deviceCode === undefined) throw new AuthFailure("invalid_request", "Missing device_code");
    if (!isSecretShaped(deviceCode)) throw invalidGrant("Invalid device code");
    const poller = { clientId: client.clientId, registeredAt: client.registered!.registeredAt };
    const poll = await this.#deps.store.pollDeviceAuthorization(
      await sha256Hex(deviceCode),
      poller,
      unixNow(),
    );
    switch (poll.outcome) {
      case "unknown":
        throw invalidGrant("Invalid device code");
      case "other_client":
        throw invalidGrant("Device code was issued to another client");
      case "used":
        throw invalidGrant("Device code was already used");
      case "pending":
        throw new AuthFailure("authorization_pending", "The user has not answered yet");
      case "slow_down":
        throw new AuthFailure(
          "slow_down",
          `Polling too fast; wait ${poll.record.intervalSeconds} seconds between requests`,
        );
      case "denied":
        throw new AuthFailure("access_denied", "The user denied access");
      case "expired_now":
        this.#record({ event: "device_code_expired", client: client.clientId }, origin);
        throw expired();
      case "expired":
        throw expired();
      case "approved":
        return await this.#tokens(poll.record, client, exchange.dpop);
    }
  }

  /** The tokens of an approved authorization, this poll's alone. */
  async #tokens(
    record: DeviceAuthorizationRecord,
    client: ClientIdentity,
    dpop?: DpopBinding,
  ): Promise<GrantResult> {
    const { store, families, idTokens, browserSessions } = this.#deps;
    const issuing: SignedInIssuing = {
      signIn: {
        username: record.username!,
        subject: record.subject!,
        clientId: record.clientId,
        scope: record.scope,
        authTime: record.authTime!,
        browserSid: record.browserSid!,
      },
      client,
      dpop,
      ended: signedOut,
      store,
      families,
      idTokens,
      browserSessions,
    };
    return await signedInGrant(await startSignedInFamily(issuing), issuing);
  }

  /** Reports a user code refused on the device page: unknown, or by the throttle. */
  userCodeRefused(reason: "unknown" | "throttled", origin?: Origin): void {
    this.#record({ event: "user_code_refused", reason }, origin);
  }

  #record(event: Parameters<SecurityEvents["record"]>[0], origin?: Origin): void {
    (this.#deps.events ?? UNRECORDED).record(event, origin);
  }
}

function expired(): AuthFailure {
  return new AuthFailure("expired_token", "The device code has expired; start again");
}

function signedOut(): AuthFailure {
  return invalidGrant("The sign-in that approved this device has ended; start again");
}
