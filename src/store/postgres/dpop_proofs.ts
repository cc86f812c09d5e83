/**
 * @module
 * The DPoP part of the shared store: proofs seen, inserted or refused in one statement, so that
 * of two instances recording the same proof at once exactly one succeeds.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { DpopProofStore } from "../dpop_proofs.ts";
import { run, type Sql, type Transaction } from "./connection.ts";

/** The DPoP part on the pool `sql`. */
export function createDpopProofStore(sql: Sql): DpopProofStore {
  return {
    recordDpopProof(proofHash, expiresAt, now) {
      return run(async () => {
        const rows = await sql`
          INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES (${proofHash}, ${expiresAt})
          ON CONFLICT (proof_hash) DO UPDATE SET expires_at = excluded.expires_at
          WHERE dpop_proofs.expires_at <= ${now}
          RETURNING proof_hash`;
        return rows.length === 1;
      });
    },
  };
}

/** Deletes proofs whose window has ended. Runs inside the caller's transaction. */
export async function pruneDpopProofs(tx: Transaction, now: UnixSeconds): Promise<void> {
  await tx`DELETE FROM dpop_proofs WHERE expires_at <= ${now}`;
}
