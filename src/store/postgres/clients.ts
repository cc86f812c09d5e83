/**
 * @module
 * The clients part of the shared store: registered OAuth clients, their lists stored as JSON
 * text. Removing a client ends its tokens, codes and consents in the same transaction; it
 * deletes the client's row first, so that a refresh family starting for the client (which holds
 * a share lock on that row) is either refused or finished, and then revoked with the others.
 */
import { actsForItself, type ClientStore } from "../clients.ts";
import { clientIdTaken, duplicateClient } from "../errors.ts";
import * as records from "../_rows.ts";
import { run, type Sql, transaction } from "./connection.ts";
import { NAME_LOCK } from "./locks.ts";
import { forgetClientSignIns } from "./sign_in.ts";
import { revokeClientTokens } from "./tokens.ts";

/** The clients part on the pool `sql`. */
export function createClientStore(sql: Sql): ClientStore {
  return {
    addClient(record) {
      return transaction(sql, async (tx) => {
        if (actsForItself(record)) {
          await tx`SELECT pg_advisory_xact_lock(${NAME_LOCK})`;
          const [user] = await tx`
            SELECT 1 FROM users WHERE username = ${record.clientId} OR subject = ${record.clientId}`;
          if (user) throw clientIdTaken(record.clientId);
        }
        const rows = await tx`
          INSERT INTO clients (client_id, name, secret_hash, redirect_uris,
            post_logout_redirect_uris, first_party, scope, grant_types, created_at, require_par,
            dpop_bound)
          VALUES (${record.clientId}, ${record.name}, ${record.secretHash},
            ${JSON.stringify(record.redirectUris)},
            ${JSON.stringify(record.postLogoutRedirectUris)}, ${record.firstParty},
            ${record.scope}, ${JSON.stringify(record.grantTypes)}, ${record.createdAt},
            ${record.requirePar}, ${record.dpopBound ?? false})
          ON CONFLICT DO NOTHING RETURNING client_id`;
        if (rows.length === 0) throw duplicateClient(record.clientId);
      });
    },

    getClient(clientId) {
      return run(async () => {
        const [row] = await sql`SELECT * FROM clients WHERE client_id = ${clientId}`;
        return row && records.toClient(row);
      });
    },

    listClients() {
      return run(async () => {
        const rows = await sql`SELECT * FROM clients ORDER BY client_id COLLATE "C"`;
        return rows.map(records.toClient);
      });
    },

    removeClient(clientId, removal) {
      return transaction(sql, async (tx) => {
        const result = await tx`DELETE FROM clients WHERE client_id = ${clientId}`;
        if (result.count === 0) return false;
        await revokeClientTokens(tx, clientId, removal);
        await forgetClientSignIns(tx, clientId);
        return true;
      });
    },

    setClientSecretHash(clientId, secretHash) {
      return run(async () => {
        const result = await sql`
          UPDATE clients SET secret_hash = ${secretHash} WHERE client_id = ${clientId}`;
        return result.count > 0;
      });
    },
  };
}
