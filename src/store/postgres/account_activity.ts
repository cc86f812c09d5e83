/**
 * @module
 * The account-activity part of the shared store: a user's live browser sessions and refresh
 * families, read for the account page.
 */
import type { AccountActivityStore } from "../account_activity.ts";
import * as records from "../_rows.ts";
import { run, type Sql } from "./connection.ts";

/** The account-activity part on the pool `sql`. */
export function createAccountActivityStore(sql: Sql): AccountActivityStore {
  return {
    listBrowserSessions(username, now) {
      return run(async () =>
        (await sql`SELECT * FROM browser_sessions
          WHERE username = ${username} AND idle_expires_at > ${now} AND expires_at > ${now}
          ORDER BY created_at DESC, sid`).map(records.toBrowserSession)
      );
    },

    listLiveFamilies(username, now) {
      return run(async () =>
        (await sql`SELECT * FROM refresh_families
          WHERE username = ${username} AND revoked_at IS NULL AND expires_at > ${now}
          ORDER BY created_at DESC, id`).map(records.toRefreshFamily)
      );
    },
  };
}
