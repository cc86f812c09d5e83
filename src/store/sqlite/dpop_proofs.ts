/**
 * @module
 * The DPoP part of the embedded store: proofs seen, inserted or refused in one statement.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { DpopProofStore } from "../dpop_proofs.ts";
import { change, one, run } from "./database.ts";

/** The DPoP part on `db`. */
export function createDpopProofStore(db: DatabaseSync): DpopProofStore {
  return {
    recordDpopProof(proofHash, expiresAt, now) {
      return run(() =>
        one(
          db,
          `INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES (?, ?)
           ON CONFLICT (proof_hash) DO UPDATE SET expires_at = excluded.expires_at
           WHERE dpop_proofs.expires_at <= ?
           RETURNING proof_hash`,
          proofHash,
          expiresAt,
          now,
        ) !== undefined
      );
    },
  };
}

/** Deletes proofs whose window has ended. Runs inside the caller's transaction. */
export function pruneDpopProofs(db: DatabaseSync, now: UnixSeconds): void {
  change(db, "DELETE FROM dpop_proofs WHERE expires_at <= ?", now);
}
