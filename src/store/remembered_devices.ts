/**
 * @module
 * The accounts part of the store's contract, its remembered devices: the devices (device tokens,
 * see auth/accounts/device_tokens.ts) a person's logins were made from, which the account page
 * lists and forgets. A device token counts only while its device is remembered here. It declares
 * records and operations only; the backends implement them.
 */
import type { UnixSeconds } from "../clock.ts";

/** A device a user's logins were made from. */
export interface RememberedDeviceRecord {
  deviceId: string;
  username: string;
  /** What the device said it was at its first login (its User-Agent), for people to recognise. */
  label: string;
  firstSeenAt: UnixSeconds;
  lastSeenAt: UnixSeconds;
  expiresAt: UnixSeconds;
}

/** Devices remembered per user. */
export interface RememberedDeviceStore {
  /**
   * Remembers a new device; false (and nothing stored) when the user does not exist. With
   * `atMost`, the user's least recently seen devices beyond that many are forgotten at once.
   */
  rememberDevice(device: RememberedDeviceRecord, options?: { atMost?: number }): Promise<boolean>;
  /**
   * Records another login on a remembered device and moves its expiry to `expiresAt`; false, and
   * nothing written, when the device is forgotten, expired or another user's.
   */
  renewDevice(
    deviceId: string,
    username: string,
    expiresAt: UnixSeconds,
    now: UnixSeconds,
  ): Promise<boolean>;
  /** Whether the device is remembered for the user and not expired at `now`. */
  isDeviceRemembered(deviceId: string, username: string, now: UnixSeconds): Promise<boolean>;
  /** The user's devices not expired at `now`, the most recently seen first. */
  listRememberedDevices(username: string, now: UnixSeconds): Promise<RememberedDeviceRecord[]>;
  /** Forgets one of the user's devices; false when the user has no such device. */
  forgetDevice(username: string, deviceId: string): Promise<boolean>;
  /** Forgets every device of the user; how many there were. */
  forgetDevices(username: string): Promise<number>;
}
