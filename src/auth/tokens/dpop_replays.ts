/**
 * @module
 * The DPoP `jti` replay cache (RFC 9449 §11.1): each proof, named by a hash of its key's
 * thumbprint and its `jti`, is recorded in the store until its acceptance window ends, atomically,
 * so that of any number of instances sharing the store exactly one accepts it. A bounded memory
 * of the proofs this instance recorded refuses a replay to the same instance without a store
 * round trip. It never reads a request.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { DpopProofStore } from "../../store/dpop_proofs.ts";
import { sha256 } from "../secrets.ts";

/** Proofs this instance remembers by default, besides the store. */
export const DEFAULT_REMEMBERED_PROOFS = 10_000;

/**
 * Records DPoP proofs once.
 *
 * @example
 * ```ts
 * const replays = new DpopReplays(store);
 * await replays.firstUse(jkt, jti, { expiresAt, now }); // true, then false
 * ```
 */
export class DpopReplays {
  #store: DpopProofStore;
  #recent = new Map<string, UnixSeconds>();
  #capacity: number;

  constructor(store: DpopProofStore, capacity = DEFAULT_REMEMBERED_PROOFS) {
    this.#store = store;
    this.#capacity = capacity;
  }

  /**
   * True when the proof with this key thumbprint and `jti` is seen for the first time within its
   * window (and is now recorded until `expiresAt`), false for a replay.
   */
  async firstUse(
    jkt: string,
    jti: string,
    { expiresAt, now }: { expiresAt: UnixSeconds; now: UnixSeconds },
  ): Promise<boolean> {
    const hash = sha256(`${jkt}.${jti}`).toBase64({ alphabet: "base64url", omitPadding: true });
    const known = this.#recent.get(hash);
    if (known !== undefined && known > now) return false;
    if (!await this.#store.recordDpopProof(hash, expiresAt, now)) return false;
    this.#remember(hash, expiresAt);
    return true;
  }

  #remember(hash: string, expiresAt: UnixSeconds): void {
    if (this.#capacity <= 0) return;
    // Oldest first: a full memory forgets the proof closest to the end of its window.
    if (this.#recent.size >= this.#capacity) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
    this.#recent.set(hash, expiresAt);
  }
}
