import { PostgresStore } from "../src/store/postgres.ts";
import type { Store } from "../src/store/store.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { storeContract } from "./store_contract.ts";

const databases = new Map<Store, AsyncDisposable & { url: string }>();

storeContract("PostgresStore", async () => {
  const database = await createTestDatabase();
  const store = await PostgresStore.open(database.url, { maxConnections: 4 });
  databases.set(store, database);
  return store;
}, {
  reopen: async (store) => await PostgresStore.open(databases.get(store)!.url),
  cleanup: async (store) => {
    await databases.get(store)?.[Symbol.asyncDispose]();
    databases.delete(store);
  },
  needs: [POSTGRESQL],
});
