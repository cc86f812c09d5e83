/**
 * @module
 * The second-factor part of the shared store: authenticator secrets, recovery codes and the
 * sign-in methods of browser sessions. Each one-time use is one conditional UPDATE, which
 * PostgreSQL's row lock decides between concurrent uses, also across instances.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { SecondFactorStore } from "../second_factors.ts";
import * as records from "../_rows.ts";
import { run, type Sql, type Transaction, transaction } from "./connection.ts";

/** The second-factor part on the pool `sql`. */
export function createSecondFactorStore(sql: Sql): SecondFactorStore {
  return {
    startTotpEnrolment(username, secret, now) {
      return run(async () => {
        const rows = await sql`
          INSERT INTO totp_factors (username, secret, created_at)
          SELECT username, ${secret}, ${now} FROM users WHERE username = ${username}
          ON CONFLICT (username) DO UPDATE SET secret = excluded.secret,
            created_at = excluded.created_at, last_step = NULL
          WHERE totp_factors.confirmed_at IS NULL
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    getTotpFactor(username) {
      return run(async () => {
        const [row] = await sql`SELECT * FROM totp_factors WHERE username = ${username}`;
        return row && records.toTotpFactor(row);
      });
    },

    acceptTotpStep(username, secret, step, { confirming, now }) {
      return run(async () => {
        const rows = await sql`
          UPDATE totp_factors SET last_step = ${step},
            confirmed_at = coalesce(confirmed_at, ${now})
          WHERE username = ${username} AND secret = ${secret}
            AND (last_step IS NULL OR last_step < ${step})
            AND (confirmed_at IS NULL) = ${confirming}
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    async replaceRecoveryCodes(username, codeHashes, now) {
      await transaction(sql, async (tx) => {
        await tx`DELETE FROM recovery_codes WHERE username = ${username}`;
        for (const codeHash of codeHashes) {
          await tx`INSERT INTO recovery_codes (username, code_hash, created_at)
            VALUES (${username}, ${codeHash}, ${now})`;
        }
      });
    },

    useRecoveryCode(username, codeHash, now) {
      return run(async () => {
        const rows = await sql`
          UPDATE recovery_codes SET used_at = ${now}
          WHERE username = ${username} AND code_hash = ${codeHash} AND used_at IS NULL
          RETURNING 1`;
        return rows.length > 0;
      });
    },

    countRecoveryCodes(username) {
      return run(async () => {
        const [row] = await sql`SELECT count(*)::int AS n FROM recovery_codes
          WHERE username = ${username} AND used_at IS NULL`;
        return Number(row.n);
      });
    },

    removeSecondFactors(username) {
      return transaction(sql, async (tx) => {
        const codes = await tx`DELETE FROM recovery_codes WHERE username = ${username}`;
        const factors = await tx`DELETE FROM totp_factors WHERE username = ${username}`;
        return codes.count + factors.count > 0;
      });
    },

    async setSessionMethods(sid, amr) {
      await run(() =>
        sql`INSERT INTO session_methods (sid, amr) VALUES (${sid}, ${amr.join(" ")})
          ON CONFLICT (sid) DO UPDATE SET amr = excluded.amr`
      );
    },

    getSessionMethods(sid) {
      return run(async () => {
        const [row] = await sql`SELECT amr FROM session_methods WHERE sid = ${sid}`;
        return row ? String(row.amr).split(" ") : ["pwd"];
      });
    },
  };
}

/** Forgets the sign-in methods of browser sessions that have ended; inside the prune. */
export async function pruneSessionMethods(tx: Transaction, _now: UnixSeconds): Promise<void> {
  await tx`DELETE FROM session_methods m
    WHERE NOT EXISTS (SELECT 1 FROM browser_sessions s WHERE s.sid = m.sid)`;
}
