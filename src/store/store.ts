/**
 * @module
 * The store's whole contract: {@linkcode Store} is the intersection of the narrow per-part
 * interfaces (accounts.ts, clients.ts, tokens.ts, sign_in.ts) and the store's lifecycle. Both
 * backends (the embedded SQLite store and the shared PostgreSQL store) implement all of it and
 * pass tests/store_contract.ts. Every time is {@linkcode UnixSeconds}. Failures a caller can act
 * on are StoreFailure. The records are declared in their part and named here again, so that a
 * caller may import them from one place.
 */
import type { UnixSeconds } from "../clock.ts";
import type { AccountStore } from "./accounts.ts";
import type { ClientStore } from "./clients.ts";
import type { AccountActivityStore } from "./account_activity.ts";
import type { RememberedDeviceStore } from "./remembered_devices.ts";
import type { SecondFactorStore } from "./second_factors.ts";
import type { PushedRequestStore } from "./pushed_requests.ts";
import type { PasskeyStore } from "./passkeys.ts";
import type { SignInStore } from "./sign_in.ts";
import type { TokenStore } from "./tokens.ts";
import type { DeviceAuthorizationStore } from "./device_authorizations.ts";
import type { DpopProofStore } from "./dpop_proofs.ts";

export * from "./accounts.ts";
export * from "./clients.ts";
export * from "./account_activity.ts";
export * from "./remembered_devices.ts";
export * from "./second_factors.ts";
export * from "./passkeys.ts";
export * from "./sign_in.ts";
export * from "./tokens.ts";
export * from "./pushed_requests.ts";
export * from "./device_authorizations.ts";
export * from "./dpop_proofs.ts";

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
  & AccountStore
  & ClientStore
  & TokenStore
  & SignInStore
  & SecondFactorStore
  & AccountActivityStore
  & RememberedDeviceStore
  & PushedRequestStore
  & DeviceAuthorizationStore
  & PasskeyStore
  & DpopProofStore
  & StoreLifecycle;
