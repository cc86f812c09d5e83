/**
 * @module
 * The account-activity part of the embedded store: a user's live browser sessions and refresh
 * families, read for the account page.
 */
import type { DatabaseSync } from "node:sqlite";
import type { AccountActivityStore } from "../account_activity.ts";
import * as records from "../_rows.ts";
import { all, run } from "./database.ts";

/** The account-activity part on `db`. */
export function createAccountActivityStore(db: DatabaseSync): AccountActivityStore {
  return {
    listBrowserSessions(username, now) {
      return run(() =>
        all(
          db,
          `SELECT * FROM browser_sessions
           WHERE username = ? AND idle_expires_at > ? AND expires_at > ?
           ORDER BY created_at DESC, sid`,
          username,
          now,
          now,
        ).map(records.toBrowserSession)
      );
    },

    listLiveFamilies(username, now) {
      return run(() =>
        all(
          db,
          `SELECT * FROM refresh_families
           WHERE username = ? AND revoked_at IS NULL AND expires_at > ?
           ORDER BY created_at DESC, id`,
          username,
          now,
        ).map(records.toRefreshFamily)
      );
    },
  };
}
