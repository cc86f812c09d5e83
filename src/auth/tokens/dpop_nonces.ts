/**
 * @module
 * Server-provided DPoP nonces (RFC 9449 §8): stateless, an HMAC over the current time slot under
 * a key the store keeps, so that every instance makes and accepts the same nonces with no write.
 * A nonce is accepted during its slot and the next one. It makes and checks nonces; it never
 * reads a request.
 */
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { AccountStore } from "../../store/accounts.ts";
import { openHmacKey } from "../hmac_keys.ts";
import { digestsEqual } from "../secrets.ts";

/** How long one nonce is handed out; it is accepted for up to twice as long. */
export const DPOP_NONCE_SLOT_SECONDS = 60;

/** Name of the nonce key in the store's secrets. */
const SECRET_NAME = "dpop_nonce_hmac";
/** Bytes of the HMAC kept in a nonce: 128 bits cannot be guessed. */
const MAC_BYTES = 16;
/** `<slot, base 36>.<truncated HMAC-SHA256, base64url>`. */
const NONCE_FORMAT = /^([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})$/;

/**
 * Makes and checks DPoP nonces.
 *
 * @example
 * ```ts
 * const nonces = await DpopNonces.open(store);
 * const nonce = await nonces.current();
 * await nonces.accepts(nonce); // true for up to two slots
 * ```
 */
export class DpopNonces {
  #key: CryptoKey;
  #slotSeconds: number;
  #issued?: { slot: number; nonce: string };

  private constructor(key: CryptoKey, slotSeconds: number) {
    this.#key = key;
    this.#slotSeconds = slotSeconds;
  }

  /** Loads the nonce key from the store, creating it on first use (once across instances). */
  static async open(
    store: Pick<AccountStore, "ensureSecret">,
    slotSeconds = DPOP_NONCE_SLOT_SECONDS,
  ): Promise<DpopNonces> {
    const key = await openHmacKey(store, { name: SECRET_NAME, usages: ["sign"] });
    return new DpopNonces(key, slotSeconds);
  }

  /** The nonce of the current slot, to hand to clients. */
  async current(now: UnixSeconds = unixNow()): Promise<string> {
    const slot = Math.floor(now / this.#slotSeconds);
    if (this.#issued?.slot === slot) return this.#issued.nonce;
    const nonce = `${slot.toString(36)}.${await this.#mac(slot)}`;
    this.#issued = { slot, nonce };
    return nonce;
  }

  /** Whether `nonce` was made by this service for the current or the previous slot. */
  async accepts(nonce: unknown, now: UnixSeconds = unixNow()): Promise<boolean> {
    if (typeof nonce !== "string") return false;
    const match = NONCE_FORMAT.exec(nonce);
    if (!match) return false;
    const slot = parseInt(match[1], 36);
    const currentSlot = Math.floor(now / this.#slotSeconds);
    if (slot !== currentSlot && slot !== currentSlot - 1) return false;
    return digestsEqual(match[2], await this.#mac(slot));
  }

  async #mac(slot: number): Promise<string> {
    const data = new TextEncoder().encode(`dpop-nonce:${slot}`);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, data));
    return mac.subarray(0, MAC_BYTES).toBase64({ alphabet: "base64url", omitPadding: true });
  }
}
