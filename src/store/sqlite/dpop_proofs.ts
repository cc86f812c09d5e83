/**
 * @module
 * The DPoP part of the embedded store: proofs seen, inserted or refused in one statement, on a
 * connection of its own whose commits are not flushed to disk one by one (`synchronous = NORMAL`
 * in WAL mode): a proof is recorded on every DPoP request, and waiting for the disk each time
 * would cap them at the disk's flush rate (about a thousand a second). A record lost with the
 * machine (not the process) is a proof that could be replayed within the minute of its window.
 */
import { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { DpopProofStore } from "../dpop_proofs.ts";
import { BUSY_TIMEOUT_MS, change, one, run } from "./database.ts";

/**
 * The connection proofs are recorded on: a new one to the file at `path`, or `db` itself for an
 * in-memory or read-only database.
 */
export function openDpopProofConnection(
  db: DatabaseSync,
  path: string,
  { readOnly = false }: { readOnly?: boolean } = {},
): DatabaseSync {
  if (path === ":memory:" || readOnly) return db;
  const own = new DatabaseSync(path);
  own.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA synchronous = NORMAL;`);
  return own;
}

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
