/**
 * @module
 * The store on PostgreSQL, for several instances serving as one, on the `postgres` client and
 * its connection pool. This file assembles the parts in postgres/ (accounts, clients, tokens,
 * sign-in) over one pool, and owns the lifecycle. Migrations run at open under an advisory lock.
 * A database that cannot be reached is StoreFailure `unavailable`; every other failure keeps the
 * driver's error.
 */
import type { Store } from "./store.ts";
import { createAccountStore, pruneThrottles } from "./postgres/accounts.ts";
import { createClientStore } from "./postgres/clients.ts";
import { connect, type ConnectOptions, run, transaction } from "./postgres/connection.ts";
import { migrate, pendingMigrations } from "./postgres/schema.ts";
import { createSignInStore, pruneSignIn } from "./postgres/sign_in.ts";
import { createSecondFactorStore, pruneSessionMethods } from "./postgres/second_factors.ts";
import { createPasskeyStore } from "./postgres/passkeys.ts";
import { createAccountActivityStore } from "./postgres/account_activity.ts";
import {
  createRememberedDeviceStore,
  pruneRememberedDevices,
} from "./postgres/remembered_devices.ts";
import { createPushedRequestStore, prunePushedRequests } from "./postgres/pushed_requests.ts";
import { createTokenStore, pruneTokens } from "./postgres/tokens.ts";
import {
  createDeviceAuthorizationStore,
  pruneDeviceAuthorizations,
} from "./postgres/device_authorizations.ts";
import { createDpopProofStore, pruneDpopProofs } from "./postgres/dpop_proofs.ts";

/** The shared store. */
export type PostgresStore = Store;

/**
 * Opens the shared store.
 *
 * @example
 * ```ts
 * const store = await PostgresStore.open("postgres://auth@db.internal/auth");
 * ```
 */
export const PostgresStore = {
  /**
   * Connects, applies pending migrations and returns the store. `tls` is what the URL's
   * `sslmode` asks for (see open.ts); without it the connection is cleartext. With `readOnly`,
   * nothing is migrated and the server refuses every write (see `pendingMigrations`).
   */
  async open(url: string, options: ConnectOptions = {}): Promise<PostgresStore> {
    const sql = connect(url, options);
    try {
      // Read-only, it still connects here, so that an unreachable server fails the open.
      if (options.readOnly) await run(() => pendingMigrations(sql));
      else await run(() => migrate(sql));
    } catch (error) {
      await sql.end({ timeout: 1 });
      throw error;
    }
    return {
      ...createAccountStore(sql),
      ...createClientStore(sql),
      ...createTokenStore(sql),
      ...createSignInStore(sql),
      ...createSecondFactorStore(sql),
      ...createPasskeyStore(sql),
      ...createAccountActivityStore(sql),
      ...createRememberedDeviceStore(sql),
      ...createPushedRequestStore(sql),
      ...createDeviceAuthorizationStore(sql),
      ...createDpopProofStore(sql),

      async pruneExpired(now) {
        await transaction(sql, async (tx) => {
          await pruneTokens(tx, now);
          await pruneThrottles(tx, now);
          await pruneSignIn(tx, now);
          await pruneSessionMethods(tx, now);
          await pruneRememberedDevices(tx, now);
          await prunePushedRequests(tx, now);
          await pruneDeviceAuthorizations(tx, now);
          await pruneDpopProofs(tx, now);
        });
      },

      async pendingMigrations() {
        return await run(() => pendingMigrations(sql));
      },

      async ping() {
        await run(() => sql`SELECT 1`);
      },

      async close() {
        await sql.end({ timeout: 5 });
      },
    };
  },
};
