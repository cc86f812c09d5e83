/**
 * @module
 * The store's whole contract: {@linkcode Store} is the intersection of the narrow per-kind
 * interfaces and the store's lifecycle. Each interface has its own file here, a file of the same
 * name in each backend (sqlite/, postgres/), and cases in tests/store_contract/, and belongs to the
 * part of auth/ whose services use it (the table in README.md has every file):
 *
 * - accounts: {@linkcode AccountStore} (accounts.ts), {@linkcode SecondFactorStore}
 *   (second_factors.ts), {@linkcode PasskeyStore} (passkeys.ts), {@linkcode RememberedDeviceStore}
 *   (remembered_devices.ts);
 * - clients: {@linkcode ClientStore} (clients.ts);
 * - tokens: {@linkcode TokenStore} (tokens.ts), {@linkcode DpopProofStore} (dpop_proofs.ts);
 * - sign_in: {@linkcode SignInStore} (sign_in.ts), {@linkcode PushedRequestStore}
 *   (pushed_requests.ts), {@linkcode DeviceAuthorizationStore} (device_authorizations.ts),
 *   {@linkcode AccountActivityStore} (account_activity.ts);
 * - the whole store: {@linkcode StoreLifecycle} (here).
 *
 * Both backends (the embedded SQLite store and the shared PostgreSQL store) implement all of it
 * and pass tests/store_contract.ts. Every time is {@linkcode UnixSeconds}. Failures a caller can
 * act on are StoreFailure. The records are declared in their interface's file and named here
 * again, so that a caller may import them from one place.
 */
import type { UnixSeconds } from "../clock.ts";
// accounts
import type { AccountStore } from "./accounts.ts";
import type { SecondFactorStore } from "./second_factors.ts";
import type { PasskeyStore } from "./passkeys.ts";
import type { RememberedDeviceStore } from "./remembered_devices.ts";
// clients
import type { ClientStore } from "./clients.ts";
// tokens
import type { TokenStore } from "./tokens.ts";
import type { DpopProofStore } from "./dpop_proofs.ts";
// sign_in
import type { SignInStore } from "./sign_in.ts";
import type { PushedRequestStore } from "./pushed_requests.ts";
import type { DeviceAuthorizationStore } from "./device_authorizations.ts";
import type { AccountActivityStore } from "./account_activity.ts";

export * from "./accounts.ts";
export * from "./second_factors.ts";
export * from "./passkeys.ts";
export * from "./remembered_devices.ts";
export * from "./clients.ts";
export * from "./tokens.ts";
export * from "./dpop_proofs.ts";
export * from "./sign_in.ts";
export * from "./pushed_requests.ts";
export * from "./device_authorizations.ts";
export * from "./account_activity.ts";

/** What every store does besides its parts: housekeeping, readiness and release. */
export interface StoreLifecycle {
  /**
   * Deletes expired refresh tokens, families past both their expiry and their access tokens'
   * (with their tokens), expired revocations, stale throttle entries, pending steps, browser
   * sessions (with their family links), expired authorization codes and pushed authorization
   * requests, used or not, expired remembered devices, device authorizations past their
   * retention, and DPoP proofs past their window.
   */
  pruneExpired(now: UnixSeconds): Promise<void>;
  /** Answers when the database does; for readiness checks. */
  ping(): Promise<void>;
  /** How many schema versions the database lacks: more than 0 only when opened read-only. */
  pendingMigrations(): Promise<number>;
  /** Releases the store's resources; calling it again does nothing. */
  close(): Promise<void>;
}

/** Persistent state of the service; every implementation passes tests/store_contract.ts. */
export type Store =
  // accounts
  & AccountStore
  & SecondFactorStore
  & PasskeyStore
  & RememberedDeviceStore
  // clients
  & ClientStore
  // tokens
  & TokenStore
  & DpopProofStore
  // sign_in
  & SignInStore
  & PushedRequestStore
  & DeviceAuthorizationStore
  & AccountActivityStore
  // the whole store
  & StoreLifecycle;
