/**
 * @module
 * The passkey part of the shared store. A use advances the counter in one conditional UPDATE,
 * which PostgreSQL's row lock decides between concurrent uses, also across instances.
 */
import type { PasskeyStore } from "../passkeys.ts";
import * as records from "../_rows.ts";
import { run, type Sql, transaction } from "./connection.ts";

/** The passkey part on the pool `sql`. */
export function createPasskeyStore(sql: Sql): PasskeyStore {
  return {
    addPasskey(passkey, { atMost = Infinity } = {}) {
      return transaction(sql, async (tx) => {
        // The account's row is locked: additions to one account take turns, so the count holds.
        const [owner] = await tx`
          SELECT 1 FROM users WHERE subject = ${passkey.subject} FOR UPDATE`;
        if (!owner) return false;
        const [{ count }] = await tx`
          SELECT count(*)::int AS count FROM passkeys WHERE subject = ${passkey.subject}`;
        if (count >= atMost) return false;
        const rows = await tx`
          INSERT INTO passkeys (id, subject, public_key, counter, transports, backup_eligible,
            backed_up, user_verified, name, created_at)
          SELECT ${passkey.id}, subject, ${passkey.publicKey}, ${passkey.counter},
            ${passkey.transports.join(" ")}, ${passkey.backupEligible}, ${passkey.backedUp},
            ${passkey.userVerified}, ${passkey.name}, ${passkey.createdAt}
          FROM users WHERE subject = ${passkey.subject}
          ON CONFLICT (id) DO NOTHING
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    getPasskey(id) {
      return run(async () => {
        const [row] = await sql`SELECT p.*, u.username FROM passkeys p
          JOIN users u ON u.subject = p.subject WHERE p.id = ${id}`;
        return row && records.toPasskey(row);
      });
    },

    listPasskeys(subject) {
      return run(async () => {
        const rows = await sql`SELECT p.*, u.username FROM passkeys p
          JOIN users u ON u.subject = p.subject WHERE p.subject = ${subject}
          ORDER BY p.created_at, p.id`;
        return rows.map(records.toPasskey);
      });
    },

    usePasskey(id, { counter, backedUp, now }) {
      return run(async () => {
        const rows = await sql`
          UPDATE passkeys SET counter = ${counter}, backed_up = ${backedUp},
            last_used_at = ${now}
          WHERE id = ${id} AND (counter < ${counter} OR (counter = 0 AND ${counter}::bigint = 0))
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    renamePasskey(subject, id, name) {
      return run(async () => {
        const result = await sql`UPDATE passkeys SET name = ${name}
          WHERE subject = ${subject} AND id = ${id}`;
        return result.count > 0;
      });
    },

    removePasskey(subject, id) {
      return run(async () => {
        const result = await sql`DELETE FROM passkeys WHERE subject = ${subject} AND id = ${id}`;
        return result.count > 0;
      });
    },

    removePasskeys(subject) {
      return run(async () => {
        const result = await sql`DELETE FROM passkeys WHERE subject = ${subject}`;
        return result.count;
      });
    },
  };
}
