/**
 * @module
 * The HMAC-SHA256 keys the service keeps in the store's secrets (device tokens, DPoP nonces):
 * made at random on first use, once across instances, and the same on every instance after. It
 * opens keys; what they sign is their owners' business.
 */
import type { AccountStore } from "../store/accounts.ts";

/** Bytes of a new HMAC key: 256 bits, the size of SHA-256's output. */
const KEY_BYTES = 32;

/**
 * The HMAC-SHA256 key kept as the secret `name` in the store, for `usages`; a random one is
 * stored first when there is none (the first instance to store one wins).
 */
export async function openHmacKey(
  store: Pick<AccountStore, "ensureSecret">,
  { name, usages }: { name: string; usages: KeyUsage[] },
): Promise<CryptoKey> {
  const candidate = crypto.getRandomValues(new Uint8Array(KEY_BYTES)).toBase64();
  const secret = Uint8Array.fromBase64(await store.ensureSecret(name, candidate));
  return await crypto.subtle.importKey(
    "raw",
    secret,
    { name: "HMAC", hash: "SHA-256" },
    false,
    usages,
  );
}
