/**
 * @module
 * Device tokens (OWASP "device cookies"): after a successful login the client gets a value that
 * binds the username to a random device id, signed with HMAC-SHA256 under a key the store keeps.
 * Presented with a later login for the same username, it lets the throttle count that client's
 * failures on the device's own budget. It proves nothing by itself: a password is still needed.
 * Each device is remembered in the store, and a token counts only while its device is: the
 * person forgets a device from the account page, and removing a user forgets their devices.
 * It makes and checks tokens; it never throttles and never touches HTTP.
 */
import { DAY_SECONDS, unixNow, type UnixSeconds } from "../../clock.ts";
import type { AccountStore } from "../../store/accounts.ts";
import type { RememberedDeviceStore } from "../../store/remembered_devices.ts";
import { openHmacKey } from "../hmac_keys.ts";

/** Settings of device tokens. */
export interface DeviceTokenOptions {
  /** How long a device token stays valid after the login that issued it. */
  ttlSeconds: number;
}

/** The settings used when none are configured. */
export const DEFAULT_DEVICE_TOKENS: Readonly<DeviceTokenOptions> = { ttlSeconds: 30 * DAY_SECONDS };

/** Name of the signing key in the store's secrets. */
const SECRET_NAME = "device_token_hmac";
const DEVICE_ID_BYTES = 16;
/**
 * Devices remembered per user, the least recently seen forgotten first: clients that never send
 * their token back (the tutorial's) would otherwise add one with every login.
 */
export const MAX_REMEMBERED_DEVICES = 20;
/** `<device id>.<expiry, Unix seconds>.<HMAC-SHA256>`, all base64url without padding. */
const TOKEN_FORMAT = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * Issues and checks device tokens.
 *
 * @example
 * ```ts
 * const devices = await DeviceTokens.open(store, DEFAULT_DEVICE_TOKENS);
 * const token = await devices.issue("user1", { label: "python-requests/2.28" });
 * await devices.verify(token, "user1"); // the device id
 * ```
 */
export class DeviceTokens {
  readonly options: Readonly<DeviceTokenOptions>;
  #key: CryptoKey;
  #store: RememberedDeviceStore;

  private constructor(key: CryptoKey, store: RememberedDeviceStore, options: DeviceTokenOptions) {
    this.#key = key;
    this.#store = store;
    this.options = options;
  }

  /** Loads the signing key from the store, creating it on first use (once across instances). */
  static async open(
    store: Pick<AccountStore, "ensureSecret"> & RememberedDeviceStore,
    options: DeviceTokenOptions,
  ): Promise<DeviceTokens> {
    const key = await openHmacKey(store, { name: SECRET_NAME, usages: ["sign", "verify"] });
    return new DeviceTokens(key, store, options);
  }

  /**
   * A token for `username` on the remembered device `deviceId`, whose expiry moves to the TTL from
   * now; on a new device (remembered as `label`) when absent, forgotten or expired.
   */
  async issue(
    username: string,
    device: { deviceId?: string; label: string },
    now: UnixSeconds = unixNow(),
  ): Promise<string> {
    const expiresAt = now + this.options.ttlSeconds;
    let deviceId = device.deviceId;
    if (!deviceId || !await this.#store.renewDevice(deviceId, username, expiresAt, now)) {
      deviceId = randomId();
      const label = device.label;
      await this.#store.rememberDevice(
        { deviceId, username, label, firstSeenAt: now, lastSeenAt: now, expiresAt },
        { atMost: MAX_REMEMBERED_DEVICES },
      );
    }
    const mac = await crypto.subtle.sign("HMAC", this.#key, signed(deviceId, expiresAt, username));
    return `${deviceId}.${expiresAt}.${base64url(new Uint8Array(mac))}`;
  }

  /**
   * The device id of a token issued for exactly `username`, not expired by `now`, whose device is
   * still remembered; undefined for anything else (malformed, expired, forged, another user's,
   * forgotten). The MAC is checked in constant time, before the store is asked.
   */
  async verify(
    token: string,
    username: string,
    now: UnixSeconds = unixNow(),
  ): Promise<string | undefined> {
    const match = TOKEN_FORMAT.exec(token);
    if (!match) return undefined;
    const [, deviceId, expiry, mac] = match;
    const expiresAt = Number(expiry);
    if (expiresAt <= now) return undefined;
    let signature: Uint8Array<ArrayBuffer>;
    try {
      signature = Uint8Array.fromBase64(mac, { alphabet: "base64url" });
    } catch {
      return undefined;
    }
    // The last character carries bits that decoding drops: only the one spelling of a MAC counts,
    // so that an altered token never passes.
    if (signature.toBase64({ alphabet: "base64url", omitPadding: true }) !== mac) return undefined;
    const valid = await crypto.subtle.verify(
      "HMAC",
      this.#key,
      signature,
      signed(deviceId, expiresAt, username),
    );
    if (!valid || !await this.#store.isDeviceRemembered(deviceId, username, now)) return undefined;
    return deviceId;
  }
}

function signed(
  deviceId: string,
  expiresAt: UnixSeconds,
  username: string,
): Uint8Array<ArrayBuffer> {
  // Username last: the other fields have fixed formats, so the message is unambiguous.
  return new TextEncoder().encode(`device-token\n${deviceId}\n${expiresAt}\n${username}`);
}

function randomId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(DEVICE_ID_BYTES)));
}

function base64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}
