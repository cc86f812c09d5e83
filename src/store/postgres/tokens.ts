/**
 * @module
 * The tokens part of the shared store: signing keys and ID-token keys (changed under advisory
 * locks, so that exactly one key is current), refresh families with their tokens, and
 * revocations. Every change to a family's tokens first locks the family's row, so a rotation and
 * a revocation of the same family take turns; rotation decides through _rotation.ts.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { ClientRemoval } from "../clients.ts";
import {
  type NewSigningKey,
  publicHalf,
  type RefreshFamilyRecord,
  type RefreshTokenRecord,
  type RevocationRecord,
  type TokenStore,
} from "../tokens.ts";
import { planRotation } from "../_rotation.ts";
import * as records from "../_rows.ts";
import { needsSidRevocation } from "../_session_end.ts";
import { run, type Sql, type Transaction, transaction } from "./connection.ts";
import { ID_TOKEN_KEY_LOCK, SIGNING_KEY_LOCK } from "./locks.ts";

/** The tables of keys: signing keys, and the keys that sign ID tokens. */
type KeyTable = "signing_keys" | "id_token_keys";

/** The columns of a key's public half. */
const PUBLIC_HALF = "kid, alg, public_jwk, created_at, retires_at";

/** The tokens part on the pool `sql`. */
export function createTokenStore(sql: Sql): TokenStore {
  return {
    listSigningKeys(now) {
      return run(async () =>
        (await unretiredKeys(sql, "signing_keys", now)).map(records.toSigningKey)
      );
    },

    currentPrivateJwk(kid) {
      return run(async () => {
        const [row] = await sql`
          SELECT private_jwk FROM signing_keys WHERE kid = ${kid} AND retires_at IS NULL`;
        return row?.private_jwk ?? undefined;
      });
    },

    rotateSigningKey(key, retireOthersAt, now) {
      return transaction(sql, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
        await tx`DELETE FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at <= ${now}`;
        await tx`
          UPDATE signing_keys SET retires_at = ${retireOthersAt}, private_jwk = NULL
          WHERE retires_at IS NULL`;
        await insertKey(tx, "signing_keys", key);
      });
    },

    ensureSigningKey(key, now) {
      return transaction(sql, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
        const [current] = await unretiredKeys(tx, "signing_keys", now);
        if (current) return records.toSigningKey(current);
        await insertKey(tx, "signing_keys", key);
        return publicHalf(key);
      });
    },

    revokeSigningKey(kid, replacement) {
      return transaction(sql, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`;
        const [row] = await tx`DELETE FROM signing_keys WHERE kid = ${kid} RETURNING retires_at`;
        if (!row) return "unknown";
        if (row.retires_at !== null) return "retiring";
        await insertKey(tx, "signing_keys", replacement);
        return "current";
      });
    },

    listIdTokenKeys(now) {
      return run(async () =>
        (await unretiredKeys(sql, "id_token_keys", now)).map(records.toSigningKey)
      );
    },

    ensureIdTokenKey(key, now) {
      return transaction(sql, async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${ID_TOKEN_KEY_LOCK})`;
        const [current] = await unretiredKeys(
          tx,
          "id_token_keys",
          now,
          `${PUBLIC_HALF}, private_jwk`,
        );
        if (current) return { ...records.toSigningKey(current), privateJwk: current.private_jwk };
        await insertKey(tx, "id_token_keys", key);
        return key;
      });
    },

    startRefreshFamily(family, token, passwordHash, client) {
      return transaction(sql, async (tx) => {
        // The share locks make a concurrent password change or removal of the user or the
        // client wait for this family to exist (and then end it), or this insert wait for the
        // change (and then find the password or the registration no longer current).
        const [current] = await tx`
          SELECT 1 FROM users WHERE username = ${family.username}
            AND password_hash = ${passwordHash}
          FOR SHARE`;
        if (!current) return false;
        if (client) {
          const [registered] = await tx`
            SELECT 1 FROM clients WHERE client_id = ${family.clientId}
              AND created_at = ${client.createdAt}
            FOR SHARE`;
          if (!registered) return false;
        }
        await insertFamily(tx, family);
        await insertRefreshToken(tx, token);
        return true;
      });
    },

    getRefreshToken(tokenHash) {
      return run(async () => {
        const [row] = await selectRefreshToken(sql, tokenHash);
        return row && records.toRefreshTokenState(row);
      });
    },

    rotateRefreshToken(tokenHash, now, next) {
      return transaction(sql, async (tx) => {
        // The family's row is locked before the state is read, so what is read is current.
        const [located] = await tx`
          SELECT family_id FROM refresh_tokens WHERE token_hash = ${tokenHash}`;
        if (!located) return { outcome: "unknown" };
        await tx`SELECT 1 FROM refresh_families WHERE id = ${located.family_id} FOR UPDATE`;
        const [row] = await selectRefreshToken(tx, tokenHash);
        const step = planRotation(row && records.toRefreshTokenState(row), now, next);
        switch (step.write) {
          case "nothing":
            return step.result;
          case "revocation": {
            const revocation = await revokeFamily(tx, step.family.id, now);
            return { outcome: "reused", family: step.family, revocation };
          }
          case "rotation": {
            const { family, token } = step.result;
            await tx`UPDATE refresh_tokens SET used_at = ${now} WHERE token_hash = ${tokenHash}`;
            await insertRefreshToken(tx, token);
            await tx`
              UPDATE refresh_families SET access_expires_at = ${family.accessExpiresAt},
                client_confidential = ${family.clientConfidential === true}
              WHERE id = ${family.id}`;
            return step.result;
          }
        }
      });
    },

    revokeRefreshFamily(familyId, now) {
      return transaction(sql, async (tx) => {
        const [family] = await tx`
          SELECT 1 FROM refresh_families WHERE id = ${familyId} FOR UPDATE`;
        return family ? await revokeFamily(tx, familyId, now) : undefined;
      });
    },

    revokeLiveRefreshFamily(familyId, now) {
      return transaction(sql, async (tx) => {
        // The row lock makes racing callers take turns: only the first finds the family live.
        const [family] = await tx`
          SELECT 1 FROM refresh_families WHERE id = ${familyId} AND revoked_at IS NULL
          FOR UPDATE`;
        return family ? await revokeFamily(tx, familyId, now) : undefined;
      });
    },

    markConfidentialFamilies(clientIds, now) {
      if (clientIds.length === 0) return Promise.resolve(0);
      return run(async () => {
        const marked = await sql`
          UPDATE refresh_families SET client_confidential = true
          WHERE client_confidential = false AND revoked_at IS NULL AND expires_at > ${now}
            AND client_id IN ${sql(clientIds)}`;
        return marked.count;
      });
    },

    async addRevocation(kind, id, expiresAt) {
      await transaction(sql, (tx) => recordRevocation(tx, { kind, id, expiresAt }));
    },

    listRevocations(afterSeq, now) {
      return run(async () => {
        const rows = await sql`
          SELECT seq, kind, id, expires_at, issued_until FROM revocations
          WHERE seq > ${afterSeq} AND expires_at > ${now} ORDER BY seq`;
        return rows.map(records.toRevocation);
      });
    },
  };
}

/**
 * Revokes every family of a user not yet revoked, recording a `sid` revocation for each whose
 * access tokens may still be accepted; returns those families, now revoked. Runs inside the
 * caller's transaction.
 */
export function revokeUserFamilies(
  tx: Transaction,
  username: string,
  now: UnixSeconds,
): Promise<RefreshFamilyRecord[]> {
  return revokeFamiliesOf(tx, "username", username, now);
}

/**
 * Ends what a removed client was given: revokes its families as {@linkcode revokeUserFamilies}
 * does a user's, and records the `client` revocation of its access tokens issued until
 * `removal.tokensIssuedUntil` under a new `seq` (so instances that saw an earlier removal of the
 * same id read it again). Runs inside the caller's transaction.
 */
export async function revokeClientTokens(
  tx: Transaction,
  clientId: string,
  removal: ClientRemoval,
): Promise<void> {
  await revokeFamiliesOf(tx, "client_id", clientId, removal.now);
  await tx`LOCK TABLE revocations IN SHARE ROW EXCLUSIVE MODE`;
  await tx`DELETE FROM revocations WHERE kind = 'client' AND id = ${clientId}`;
  await tx`
    INSERT INTO revocations (kind, id, expires_at, issued_until)
    VALUES ('client', ${clientId}, ${removal.tokensAcceptedUntil}, ${removal.tokensIssuedUntil})`;
}

async function revokeFamiliesOf(
  tx: Transaction,
  column: "username" | "client_id",
  value: string,
  now: UnixSeconds,
): Promise<RefreshFamilyRecord[]> {
  const families = (await tx`
    UPDATE refresh_families SET revoked_at = ${now}
    WHERE ${tx(column)} = ${value} AND revoked_at IS NULL
    RETURNING *`).map(records.toRefreshFamily);
  for (const family of families) {
    if (needsSidRevocation(family, now)) {
      await recordRevocation(tx, { kind: "sid", id: family.id, expiresAt: family.accessExpiresAt });
    }
  }
  return families;
}

/**
 * Deletes finished families (with their tokens), expired refresh tokens and expired
 * revocations. Runs inside the caller's transaction.
 */
export async function pruneTokens(tx: Transaction, now: UnixSeconds): Promise<void> {
  // Families before tokens: the order in which rotations lock them.
  await tx`
    DELETE FROM refresh_families WHERE expires_at <= ${now} AND access_expires_at <= ${now}`;
  await tx`DELETE FROM refresh_tokens WHERE expires_at <= ${now}`;
  await tx`DELETE FROM revocations WHERE expires_at <= ${now}`;
}

function selectRefreshToken(sql: Sql | Transaction, tokenHash: string) {
  return sql`
    SELECT ${sql.unsafe(records.REFRESH_TOKEN_STATE_COLUMNS)}
    FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
    WHERE t.token_hash = ${tokenHash}`;
}

async function insertFamily(tx: Transaction, family: RefreshFamilyRecord): Promise<void> {
  await tx`
    INSERT INTO refresh_families (id, username, subject, client_id, created_at, expires_at,
      access_expires_at, revoked_at, dpop_jkt, client_confidential)
    VALUES (${family.id}, ${family.username}, ${family.subject}, ${family.clientId},
      ${family.createdAt}, ${family.expiresAt}, ${family.accessExpiresAt}, ${family.revokedAt},
      ${family.dpopJkt ?? null}, ${family.clientConfidential ?? false})`;
}

async function insertRefreshToken(tx: Transaction, token: RefreshTokenRecord): Promise<void> {
  await tx`
    INSERT INTO refresh_tokens (token_hash, family_id, scope, created_at, expires_at, used_at)
    VALUES (${token.tokenHash}, ${token.familyId}, ${token.scope}, ${token.createdAt},
      ${token.expiresAt}, ${token.usedAt})`;
}

/**
 * Revokes a family whose row the transaction has locked (keeping an earlier revocation time) and
 * records its `sid` revocation.
 */
async function revokeFamily(
  tx: Transaction,
  familyId: string,
  now: UnixSeconds,
): Promise<RevocationRecord> {
  const [family] = await tx`
    UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ${now}) WHERE id = ${familyId}
    RETURNING access_expires_at`;
  return await recordRevocation(tx, {
    kind: "sid",
    id: familyId,
    expiresAt: Number(family.access_expires_at),
  });
}

/** Records a revocation, keeping the later expiry of an earlier one of the same kind and id. */
async function recordRevocation(
  tx: Transaction,
  revocation: Omit<RevocationRecord, "seq">,
): Promise<RevocationRecord> {
  // Writers take turns so that sequence numbers become visible in order: a reader that has seen
  // number n can never later find a smaller one committed.
  await tx`LOCK TABLE revocations IN SHARE ROW EXCLUSIVE MODE`;
  const [row] = await tx`
    INSERT INTO revocations (kind, id, expires_at)
    VALUES (${revocation.kind}, ${revocation.id}, ${revocation.expiresAt})
    ON CONFLICT (kind, id) DO UPDATE
      SET expires_at = GREATEST(revocations.expires_at, excluded.expires_at)
    RETURNING seq, kind, id, expires_at`;
  return records.toRevocation(row);
}

/** The keys of `table` that have not retired at `now`, newest first. */
function unretiredKeys(
  sql: Sql | Transaction,
  table: KeyTable,
  now: UnixSeconds,
  columns = PUBLIC_HALF,
) {
  return sql`
    SELECT ${sql.unsafe(columns)} FROM ${sql(table)}
    WHERE retires_at IS NULL OR retires_at > ${now} ORDER BY created_at DESC, id DESC`;
}

async function insertKey(tx: Transaction, table: KeyTable, key: NewSigningKey): Promise<void> {
  await tx`
    INSERT INTO ${tx(table)} (kid, alg, private_jwk, public_jwk, created_at, retires_at)
    VALUES (${key.kid}, ${key.alg}, ${key.privateJwk}, ${key.publicJwk}, ${key.createdAt},
      ${key.retiresAt})`;
}
