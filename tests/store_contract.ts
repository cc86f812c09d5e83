/**
 * @module
 * The store contract: the behaviour every {@linkcode Store} must have, part by part (the cases
 * are in store_contract/, one file per part of the store), registered for one store by
 * {@linkcode storeContract}. tests/sqlite_store_test.ts and tests/postgres_store_test.ts run it.
 */
import type { Store } from "../src/store/store.ts";
import { accountsContract } from "./store_contract/accounts.ts";
import { throttleContract } from "./store_contract/accounts_throttle.ts";
import { clientsContract } from "./store_contract/clients.ts";
import { lifecycleContract } from "./store_contract/lifecycle.ts";
import { passkeysContract } from "./store_contract/passkeys.ts";
import { secondFactorsContract } from "./store_contract/second_factors.ts";
import { accountActivityContract } from "./store_contract/account_activity.ts";
import { rememberedDevicesContract } from "./store_contract/remembered_devices.ts";
import { contractContext, type StoreContractOptions } from "./store_contract/setup.ts";
import { pushedRequestsContract } from "./store_contract/pushed_requests.ts";
import { signInContract } from "./store_contract/sign_in.ts";
import { tokensContract } from "./store_contract/tokens.ts";
import { deviceAuthorizationsContract } from "./store_contract/device_authorizations.ts";
import { refreshFamiliesContract } from "./store_contract/tokens_refresh.ts";
import { dpopProofsContract } from "./store_contract/dpop_proofs.ts";

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
  clientsContract(context);
  tokensContract(context);
  refreshFamiliesContract(context);
  signInContract(context);
  secondFactorsContract(context);
  accountActivityContract(context);
  rememberedDevicesContract(context);
  pushedRequestsContract(context);
  deviceAuthorizationsContract(context);
  lifecycleContract(context);
  passkeysContract(context);
  dpopProofsContract(context);
}
