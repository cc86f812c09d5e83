/**
 * @module
 * The tokens part of the store's contract, its DPoP proofs: the proofs already accepted (RFC 9449
 * §11.1), shared by every instance so that a proof replayed to another one is refused too. It
 * declares the operation only; the backends implement it.
 */
import type { UnixSeconds } from "../clock.ts";

/** DPoP proofs seen, by a hash of their key and `jti`, until their acceptance window ends. */
export interface DpopProofStore {
  /**
   * Records a proof's hash until `expiresAt`, atomically: true when it was not recorded yet (or
   * only by a record expired at `now`), false when another request recorded it first.
   */
  recordDpopProof(proofHash: string, expiresAt: UnixSeconds, now: UnixSeconds): Promise<boolean>;
}
