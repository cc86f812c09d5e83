/**
 * @module
 * The store contract: the behaviour every {@linkcode Store} must have, part by part (the cases
 * are in store_contract/, one file per store interface, grouped by the part of auth/ it serves as
 * src/store/README.md's table has them), registered for one store by
 * {@linkcode storeContract}. tests/sqlite_store_test.ts and tests/postgres_store_test.ts run it.
 */
import type { Store } from "../src/store/store.ts";
import { contractContext, type StoreContractOptions } from "./store_contract/setup.ts";
// accounts
import { accountsContract } from "./store_contract/accounts.ts";
import { throttleContract } from "./store_contract/throttle.ts";
import { secondFactorsContract } from "./store_contract/second_factors.ts";
import { passkeysContract } from "./store_contract/passkeys.ts";
import { rememberedDevicesContract } from "./store_contract/remembered_devices.ts";
// clients
import { clientsContract } from "./store_contract/clients.ts";
// tokens
import { tokensContract } from "./store_contract/tokens.ts";
import { refreshFamiliesContract } from "./store_contract/refresh_families.ts";
import { clientFamiliesContract } from "./store_contract/client_families.ts";
import { dpopProofsContract } from "./store_contract/dpop_proofs.ts";
// sign_in
import { signInContract } from "./store_contract/sign_in.ts";
import { pushedRequestsContract } from "./store_contract/pushed_requests.ts";
import { deviceAuthorizationsContract } from "./store_contract/device_authorizations.ts";
import { accountActivityContract } from "./store_contract/account_activity.ts";
// the whole store
import { lifecycleContract } from "./store_contract/lifecycle.ts";

export type { StoreContractOptions } from "./store_contract/setup.ts";

/**
 * Registers the behaviour every `Store` must have as `Deno.test` cases named `"<name> …"`.
 * `open` must return a new, empty store on each call.
 *
 * @example
 * ```ts
 * storeContract("SqliteStore", () => SqliteStore.open(":memory:"));
 * ```
 */
export function storeContract(
  name: string,
  open: () => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  const context = contractContext(name, open, options);
  accountsContract(context);
  throttleContract(context);
  secondFactorsContract(context);
  passkeysContract(context);
  rememberedDevicesContract(context);
  clientsContract(context);
  tokensContract(context);
  refreshFamiliesContract(context);
  clientFamiliesContract(context);
  dpopProofsContract(context);
  signInContract(context);
  pushedRequestsContract(context);
  deviceAuthorizationsContract(context);
  accountActivityContract(context);
  lifecycleContract(context);
}
