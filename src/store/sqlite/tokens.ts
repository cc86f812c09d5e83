/**
 * @module
 * The tokens part of the embedded store: signing keys and ID-token keys, refresh families with
 * their tokens, and revocations. A change of signing keys empties the write-ahead log after its
 * commit, so that an erased private key survives in neither file. Rotation decides through
 * _rotation.ts and writes inside the write lock taken before the read.
 */
import type { DatabaseSync } from "node:sqlite";
import type { UnixSeconds } from "../../clock.ts";
import type { ClientRemoval } from "../clients.ts";
import {
  type NewSigningKey,
  publicHalf,
  type RefreshFamilyRecord,
  type RefreshTokenRecord,
  type RefreshTokenState,
  type RevocationRecord,
  type TokenStore,
} from "../tokens.ts";
import { planRotation } from "../_rotation.ts";
import * as records from "../_rows.ts";
import { needsSidRevocation } from "../_session_end.ts";
import { all, change, one, run, transaction, truncateLog } from "./database.ts";

/** The columns of a key's public half. */
const PUBLIC_HALF = "kid, alg, public_jwk, created_at, retires_at";
/** The keys of a key table that have not retired at `?`, newest first. */
const UNRETIRED = "WHERE retires_at IS NULL OR retires_at > ? ORDER BY created_at DESC, rowid DESC";

/** The tokens part on `db`. */
export function createTokenStore(db: DatabaseSync): TokenStore {
  /** Runs a change of signing keys in one transaction, then empties the write-ahead log. */
  async function keyChange<T>(work: () => T): Promise<T> {
    const result = await transaction(db, work);
    await run(() => truncateLog(db));
    return result;
  }

  return {
    listSigningKeys(now) {
      return run(() =>
        all(db, `SELECT ${PUBLIC_HALF} FROM signing_keys ${UNRETIRED}`, now).map(
          records.toSigningKey,
        )
      );
    },

    currentPrivateJwk(kid) {
      return run(() => {
        const row = one(
          db,
          "SELECT private_jwk FROM signing_keys WHERE kid = ? AND retires_at IS NULL",
          kid,
        );
        return (row?.private_jwk as string | null | undefined) ?? undefined;
      });
    },

    async rotateSigningKey(key, retireOthersAt, now) {
      await keyChange(() => {
        change(
          db,
          "DELETE FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at <= ?",
          now,
        );
        change(
          db,
          "UPDATE signing_keys SET retires_at = ?, private_jwk = NULL WHERE retires_at IS NULL",
          retireOthersAt,
        );
        insertKey(db, "signing_keys", key);
      });
    },

    ensureSigningKey(key, now) {
      return transaction(db, () => {
        const current = one(db, `SELECT ${PUBLIC_HALF} FROM signing_keys ${UNRETIRED}`, now);
        if (current) return records.toSigningKey(current);
        insertKey(db, "signing_keys", key);
        return publicHalf(key);
      });
    },

    revokeSigningKey(kid, replacement) {
      return keyChange(() => {
        const row = one(db, "DELETE FROM signing_keys WHERE kid = ? RETURNING retires_at", kid);
        if (!row) return "unknown";
        if (row.retires_at !== null) return "retiring";
        insertKey(db, "signing_keys", replacement);
        return "current";
      });
    },

    listIdTokenKeys(now) {
      return run(() =>
        all(db, `SELECT ${PUBLIC_HALF} FROM id_token_keys ${UNRETIRED}`, now).map(
          records.toSigningKey,
        )
      );
    },

    ensureIdTokenKey(key, now) {
      return transaction(db, () => {
        const current = one(
          db,
          `SELECT ${PUBLIC_HALF}, private_jwk FROM id_token_keys ${UNRETIRED}`,
          now,
        );
        if (current) {
          return { ...records.toSigningKey(current), privateJwk: current.private_jwk as string };
        }
        insertKey(db, "id_token_keys", key);
        return key;
      });
    },

    startRefreshFamily(family, token, passwordHash, client) {
      return transaction(db, () => {
        const current = one(
          db,
          "SELECT 1 FROM users WHERE username = ? AND password_hash = ?",
          family.username,
          passwordHash,
        );
        if (current === undefined) return false;
        if (client && !isRegistration(db, family.clientId, client.createdAt)) return false;
        insertFamily(db, family);
        insertRefreshToken(db, token);
        return true;
      });
    },

    getRefreshToken(tokenHash) {
      return run(() => readRefreshToken(db, tokenHash));
    },

    rotateRefreshToken(tokenHash, now, next) {
      // BEGIN IMMEDIATE takes the database's write lock before reading, so the family cannot be
      // revoked (by this process or another) between the checks and the insert.
      return transaction(db, () => {
        const step = planRotation(readRefreshToken(db, tokenHash), now, next);
        switch (step.write) {
          case "nothing":
            return step.result;
          case "revocation": {
            const revocation = revokeFamily(db, step.family.id, now);
            return { outcome: "reused", family: step.family, revocation };
          }
          case "rotation": {
            const { family, token } = step.result;
            change(
              db,
              "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?",
              now,
              tokenHash,
            );
            insertRefreshToken(db, token);
            change(
              db,
              `UPDATE refresh_families SET access_expires_at = ?, client_confidential = ?
               WHERE id = ?`,
              family.accessExpiresAt,
              family.clientConfidential ? 1 : 0,
              family.id,
            );
            return step.result;
          }
        }
      });
    },

    revokeRefreshFamily(familyId, now) {
      return transaction(db, () => {
        const exists = one(db, "SELECT 1 FROM refresh_families WHERE id = ?", familyId);
        return exists === undefined ? undefined : revokeFamily(db, familyId, now);
      });
    },

    revokeLiveRefreshFamily(familyId, now) {
      return transaction(db, () => {
        const live = one(
          db,
          "SELECT 1 FROM refresh_families WHERE id = ? AND revoked_at IS NULL",
          familyId,
        );
        return live === undefined ? undefined : revokeFamily(db, familyId, now);
      });
    },

    markConfidentialFamilies(clientIds, now) {
      if (clientIds.length === 0) return Promise.resolve(0);
      return run(() =>
        change(
          db,
          `UPDATE refresh_families SET client_confidential = 1
           WHERE client_confidential = 0 AND revoked_at IS NULL AND expires_at > ?
             AND client_id IN (SELECT value FROM json_each(?))`,
          now,
          JSON.stringify(clientIds),
        )
      );
    },

    async addRevocation(kind, id, expiresAt) {
      await run(() => recordRevocation(db, { kind, id, expiresAt }));
    },

    listRevocations(afterSeq, now) {
      return run(() =>
        all(
          db,
          "SELECT * FROM revocations WHERE seq > ? AND expires_at > ? ORDER BY seq",
          afterSeq,
          now,
        ).map(records.toRevocation)
      );
    },
  };
}

/**
 * Revokes every family of a user not yet revoked, recording a `sid` revocation for each whose
 * access tokens may still be accepted; returns those families, now revoked. Runs inside the
 * caller's transaction.
 */
export function revokeUserFamilies(
  db: DatabaseSync,
  username: string,
  now: UnixSeconds,
): RefreshFamilyRecord[] {
  return revokeFamiliesOf(db, "username", username, now);
}

/**
 * Ends what a removed client was given: revokes its families as {@linkcode revokeUserFamilies}
 * does a user's, and records the `client` revocation of its access tokens issued until
 * `removal.tokensIssuedUntil` under a new `seq` (so instances that saw an earlier removal of the
 * same id read it again). Runs inside the caller's transaction.
 */
export function revokeClientTokens(
  db: DatabaseSync,
  clientId: string,
  removal: ClientRemoval,
): void {
  revokeFamiliesOf(db, "client_id", clientId, removal.now);
  change(db, "DELETE FROM revocations WHERE kind = 'client' AND id = ?", clientId);
  change(
    db,
    "INSERT INTO revocations (kind, id, expires_at, issued_until) VALUES ('client', ?, ?, ?)",
    clientId,
    removal.tokensAcceptedUntil,
    removal.tokensIssuedUntil,
  );
}

function revokeFamiliesOf(
  db: DatabaseSync,
  column: "username" | "client_id",
  value: string,
  now: UnixSeconds,
): RefreshFamilyRecord[] {
  const families = all(
    db,
    `UPDATE refresh_families SET revoked_at = ? WHERE ${column} = ? AND revoked_at IS NULL
     RETURNING *`,
    now,
    value,
  ).map(records.toRefreshFamily);
  for (const family of families) {
    if (needsSidRevocation(family, now)) {
      recordRevocation(db, { kind: "sid", id: family.id, expiresAt: family.accessExpiresAt });
    }
  }
  return families;
}

/** Whether `clientId` is registered, and since `createdAt` (not removed and added again). */
function isRegistration(db: DatabaseSync, clientId: string, createdAt: UnixSeconds): boolean {
  return one(
    db,
    "SELECT 1 FROM clients WHERE client_id = ? AND created_at = ?",
    clientId,
    createdAt,
  ) !== undefined;
}

/**
 * Deletes finished families (with their tokens), expired refresh tokens and expired
 * revocations. Runs inside the caller's transaction.
 */
export function pruneTokens(db: DatabaseSync, now: UnixSeconds): void {
  change(
    db,
    "DELETE FROM refresh_families WHERE expires_at <= ? AND access_expires_at <= ?",
    now,
    now,
  );
  change(db, "DELETE FROM refresh_tokens WHERE expires_at <= ?", now);
  change(db, "DELETE FROM revocations WHERE expires_at <= ?", now);
}

function readRefreshToken(db: DatabaseSync, tokenHash: string): RefreshTokenState | undefined {
  const row = one(
    db,
    `SELECT ${records.REFRESH_TOKEN_STATE_COLUMNS}
     FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
     WHERE t.token_hash = ?`,
    tokenHash,
  );
  return row && records.toRefreshTokenState(row);
}

function insertFamily(db: DatabaseSync, family: RefreshFamilyRecord): void {
  change(
    db,
    `INSERT INTO refresh_families (id, username, subject, client_id, created_at, expires_at,
     access_expires_at, revoked_at, dpop_jkt, client_confidential)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    family.id,
    family.username,
    family.subject,
    family.clientId,
    family.createdAt,
    family.expiresAt,
    family.accessExpiresAt,
    family.revokedAt,
    family.dpopJkt ?? null,
    family.clientConfidential ? 1 : 0,
  );
}

function insertRefreshToken(db: DatabaseSync, token: RefreshTokenRecord): void {
  change(
    db,
    `INSERT INTO refresh_tokens (token_hash, family_id, scope, created_at, expires_at, used_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
    token.tokenHash,
    token.familyId,
    token.scope,
    token.createdAt,
    token.expiresAt,
    token.usedAt,
  );
}

/** Revokes a family (keeping an earlier revocation time) and records its `sid` revocation. */
function revokeFamily(db: DatabaseSync, familyId: string, now: UnixSeconds): RevocationRecord {
  const row = one(
    db,
    `UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?
     RETURNING access_expires_at`,
    now,
    familyId,
  )!;
  return recordRevocation(db, {
    kind: "sid",
    id: familyId,
    expiresAt: row.access_expires_at as number,
  });
}

/** Records a revocation, keeping the later expiry of an earlier one of the same kind and id. */
function recordRevocation(
  db: DatabaseSync,
  revocation: Omit<RevocationRecord, "seq">,
): RevocationRecord {
  const row = one(
    db,
    `INSERT INTO revocations (kind, id, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (kind, id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
     RETURNING *`,
    revocation.kind,
    revocation.id,
    revocation.expiresAt,
  )!;
  return records.toRevocation(row);
}

function insertKey(
  db: DatabaseSync,
  table: "signing_keys" | "id_token_keys",
  key: NewSigningKey,
): void {
  change(
    db,
    `INSERT INTO ${table} (kid, alg, private_jwk, public_jwk, created_at, retires_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
    key.kid,
    key.alg,
    key.privateJwk,
    key.publicJwk,
    key.createdAt,
    key.retiresAt,
  );
}
