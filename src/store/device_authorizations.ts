/**
 * @module
 * The sign-in part of the store's contract, its device authorizations (RFC 8628): device
 * authorizations waiting for a person to enter their user code, approve or deny, and for the device
 * to poll. Only the SHA-256 of the device code and of the user code is kept. It declares records
 * and operations only; the backends implement them.
 */
import type { UnixSeconds } from "../clock.ts";
import type { PendingAdmission } from "./sign_in.ts";

/** Where a device authorization stands. */
export type DeviceAuthorizationStatus = "pending" | "approved" | "denied" | "expired" | "used";

/** A device authorization as stored. */
export interface DeviceAuthorizationRecord {
  /** SHA-256 of the device code: the key. */
  deviceCodeHash: string;
  /** SHA-256 of the normalised user code; unique among stored authorizations. */
  userCodeHash: string;
  clientId: string;
  scope: string;
  createdAt: UnixSeconds;
  expiresAt: UnixSeconds;
  /** Seconds the device must wait between polls; grows with every `slow_down`. */
  intervalSeconds: number;
  /** When the device last polled, if it has. */
  lastPolledAt: UnixSeconds | null;
  status: DeviceAuthorizationStatus;
  /** Who approved or denied, once someone did. */
  username: string | null;
  subject: string | null;
  /** The browser session it was approved in, and when that session's user signed in. */
  browserSid: string | null;
  authTime: UnixSeconds | null;
  decidedAt: UnixSeconds | null;
  /**
   * The client address (group) a public client asked from, counted against that address's cap
   * while the authorization waits (pending or approved, unexpired); null where not counted.
   */
  address: string | null;
}

/**
 * Whether a device authorization was stored: not when its address is at its cap (`freeAt`), nor
 * when its user code is taken (`userCodeTaken`).
 */
export type DeviceAdmission = PendingAdmission | { added: false; userCodeTaken: true };

/** A person's answer to a device authorization. */
export type DeviceDecision =
  | { approved: true; username: string; subject: string; browserSid: string; authTime: UnixSeconds }
  | { approved: false; username: string; subject: string };

/** What a poll found, with the authorization as it is now stored. */
export type DevicePollOutcome =
  /** No such device code, or one issued to another client (then nothing changed). */
  | { outcome: "unknown" | "other_client" }
  | {
    /**
     * `approved` is this poll's alone: the authorization is now `used`; `slow_down` when the
     * device polled sooner than its interval (which grew by {@linkcode SLOW_DOWN_STEP_SECONDS});
     * `expired` is reported once as `expired_now`, then as `expired`.
     */
    outcome: "pending" | "slow_down" | "approved" | "denied" | "expired_now" | "expired" | "used";
    record: DeviceAuthorizationRecord;
  };

/** The client polling: only the registration a device code was issued to may poll it. */
export interface DevicePoller {
  clientId: string;
  /** When the client was registered: a code from before it was removed and added again is not its. */
  registeredAt: UnixSeconds;
}

/** How much a device's polling interval grows at each `slow_down` (RFC 8628 §3.5). */
export const SLOW_DOWN_STEP_SECONDS = 5;

/** Device authorizations. */
export interface DeviceAuthorizationStore {
  /**
   * Stores a new device authorization, unless its user code is taken. With `maxPerAddress` and an
   * `address` on the record, only while that address has fewer waiting authorizations (pending or
   * approved, unexpired at `createdAt`); the count and the insert are one atomic step across
   * every connection and instance. Expired ones are kept for their retention.
   */
  addDeviceAuthorization(
    record: DeviceAuthorizationRecord,
    maxPerAddress?: number,
  ): Promise<DeviceAdmission>;
  /** The pending authorization of a user code that has not expired by `now`, if any. */
  findPendingDeviceAuthorization(
    userCodeHash: string,
    now: UnixSeconds,
  ): Promise<DeviceAuthorizationRecord | undefined>;
  /**
   * Records a person's answer while the authorization is pending and unexpired at `now`; false
   * (changing nothing) otherwise. Of concurrent answers exactly one is recorded.
   */
  decideDeviceAuthorization(
    deviceCodeHash: string,
    decision: DeviceDecision,
    now: UnixSeconds,
  ): Promise<boolean>;
  /**
   * One poll of the device at `now`, decided by _device_poll.ts and stored in the same atomic
   * step: of concurrent polls of an approved authorization exactly one gets `approved`, across
   * every connection and instance. A poll by another client than the code's changes nothing.
   */
  pollDeviceAuthorization(
    deviceCodeHash: string,
    poller: DevicePoller,
    now: UnixSeconds,
  ): Promise<DevicePollOutcome>;
}
