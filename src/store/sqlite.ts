/**
 * @module
 * The embedded store on `node:sqlite`: one file in WAL mode, so the CLI and the server can use
 * it at the same time. This file assembles the parts in sqlite/ (accounts, clients, tokens,
 * sign-in) over one connection, and owns the lifecycle. Every method is async and rejects (never
 * throws). The files hold private keys: they are kept to their owner (sqlite/file_modes.ts),
 * deleted content is overwritten, and the write-ahead log is emptied after a key change.
 */
import type { Store } from "./store.ts";
import { createAccountStore, pruneThrottles } from "./sqlite/accounts.ts";
import { createClientStore } from "./sqlite/clients.ts";
import { openDatabase, run, transaction } from "./sqlite/database.ts";
import { pendingMigrations } from "./sqlite/schema.ts";
import { createSignInStore, pruneSignIn } from "./sqlite/sign_in.ts";
import { createSecondFactorStore, pruneSessionMethods } from "./sqlite/second_factors.ts";
import { createPasskeyStore } from "./sqlite/passkeys.ts";
import { createAccountActivityStore } from "./sqlite/account_activity.ts";
import {
  createRememberedDeviceStore,
  pruneRememberedDevices,
} from "./sqlite/remembered_devices.ts";
import { createPushedRequestStore, prunePushedRequests } from "./sqlite/pushed_requests.ts";
import { createTokenStore, pruneTokens } from "./sqlite/tokens.ts";
import {
  createDeviceAuthorizationStore,
  pruneDeviceAuthorizations,
} from "./sqlite/device_authorizations.ts";
import {
  createDpopProofStore,
  openDpopProofConnection,
  pruneDpopProofs,
} from "./sqlite/dpop_proofs.ts";

/** The embedded store. */
export interface SqliteStore extends Store {
  /**
   * What was readable or writable by other users when the store was opened: the directory (left
   * as it is) and files (now 0600), as `"path" 0644`; empty when all was private.
   */
  readonly looseModes: readonly string[];
}

/**
 * Opens the embedded store.
 *
 * @example
 * ```ts
 * const store = await SqliteStore.open("data/auth.db");
 * await store.addUser("alice", hash);
 * ```
 */
export const SqliteStore = {
  /**
   * Opens (creating when needed, the directory 0700 and the files 0600) and migrates the
   * database at `path`; `:memory:` works too. With `readOnly`, an existing database is only
   * read: nothing is created, migrated or made private (see `pendingMigrations`).
   */
  async open(path: string, options: { readOnly?: boolean } = {}): Promise<SqliteStore> {
    const { db, looseModes } = await openDatabase(path, options);
    const proofsDb = await run(() => openDpopProofConnection(db, path, options));
    return {
      looseModes,
      ...createAccountStore(db),
      ...createClientStore(db),
      ...createTokenStore(db),
      ...createSignInStore(db),
      ...createSecondFactorStore(db),
      ...createPasskeyStore(db),
      ...createAccountActivityStore(db),
      ...createRememberedDeviceStore(db),
      ...createPushedRequestStore(db),
      ...createDeviceAuthorizationStore(db),
      ...createDpopProofStore(proofsDb),

      async pruneExpired(now) {
        await transaction(db, () => {
          pruneTokens(db, now);
          pruneThrottles(db, now);
          pruneSignIn(db, now);
          pruneSessionMethods(db, now);
          pruneRememberedDevices(db, now);
          prunePushedRequests(db, now);
          pruneDeviceAuthorizations(db, now);
          pruneDpopProofs(db, now);
        });
      },

      async pendingMigrations() {
        return await run(() => pendingMigrations(db));
      },

      async ping() {
        await run(() => db.prepare("SELECT 1").get());
      },

      async close() {
        if (proofsDb !== db && proofsDb.isOpen) await run(() => proofsDb.close());
        if (db.isOpen) await run(() => db.close());
      },
    };
  },
};
