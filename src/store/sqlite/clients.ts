/**
 * @module
 * The clients part of the embedded store: registered OAuth clients, their lists stored as JSON
 * text. Removing a client ends its tokens, codes and consents in the same transaction.
 */
import type { DatabaseSync } from "node:sqlite";
import { actsForItself, type ClientStore } from "../clients.ts";
import { clientIdTaken, duplicateClient } from "../errors.ts";
import * as records from "../_rows.ts";
import { all, change, one, run, transaction } from "./database.ts";
import { forgetClientSignIns } from "./sign_in.ts";
import { revokeClientTokens } from "./tokens.ts";

/** The clients part on `db`. */
export function createClientStore(db: DatabaseSync): ClientStore {
  return {
    async addClient(record) {
      // The write lock is taken before the users are read: no user can be added in between.
      const added = await transaction(db, () => {
        if (
          actsForItself(record) &&
          one(
            db,
            "SELECT 1 FROM users WHERE username = ? OR subject = ?",
            record.clientId,
            record.clientId,
          )
        ) {
          throw clientIdTaken(record.clientId);
        }
        return change(
          db,
          `INSERT INTO clients (client_id, name, secret_hash, redirect_uris,
           post_logout_redirect_uris, first_party, scope, grant_types, created_at, require_par,
           dpop_bound)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          record.clientId,
          record.name,
          record.secretHash,
          JSON.stringify(record.redirectUris),
          JSON.stringify(record.postLogoutRedirectUris),
          record.firstParty ? 1 : 0,
          record.scope,
          JSON.stringify(record.grantTypes),
          record.createdAt,
          record.requirePar ? 1 : 0,
          record.dpopBound ? 1 : 0,
        );
      });
      if (added === 0) throw duplicateClient(record.clientId);
    },

    getClient(clientId) {
      return run(() => {
        const row = one(db, "SELECT * FROM clients WHERE client_id = ?", clientId);
        return row && records.toClient(row);
      });
    },

    listClients() {
      return run(() => all(db, "SELECT * FROM clients ORDER BY client_id").map(records.toClient));
    },

    removeClient(clientId, removal) {
      return transaction(db, () => {
        if (change(db, "DELETE FROM clients WHERE client_id = ?", clientId) === 0) return false;
        revokeClientTokens(db, clientId, removal);
        forgetClientSignIns(db, clientId);
        return true;
      });
    },

    setClientSecretHash(clientId, secretHash) {
      return run(() =>
        change(db, "UPDATE clients SET secret_hash = ? WHERE client_id = ?", secretHash, clientId) >
          0
      );
    },
  };
}
