/**
 * @module
 * The revocation list: revoked access tokens (`jti`) and refresh families (`sid`), kept in memory
 * from the store's list so that a check on every request costs a set lookup.
 */
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { RevocationRecord, TokenStore } from "../../store/tokens.ts";
import { repeatEvery } from "../_repeat.ts";

/** The claims a revocation can match. */
export interface RevocableClaims {
  jti: string;
  sid?: string;
}

/**
 * Revoked access tokens (`jti`) and refresh families (`sid`): an in-memory copy of the store's
 * list, updated at once for revocations made here and re-read periodically for those made by
 * other instances, so that a check costs a set lookup.
 *
 * @example
 * ```ts
 * const revocations = await RevocationList.open(store, { syncIntervalMs: 1000 });
 * await revocations.revoke("jti", claims.jti, claims.exp);
 * revocations.isRevoked(claims); // true
 * ```
 */
export class RevocationList {
  #store: TokenStore;
  #expiry = { jti: new Map<string, number>(), sid: new Map<string, number>() };
  #lastSeq = 0;
  #stopSyncing = () => {};
  #syncing?: Promise<void>;

  private constructor(store: TokenStore) {
    this.#store = store;
  }

  /** Loads the current revocations and, with `syncIntervalMs`, keeps re-reading new ones. */
  static async open(
    store: TokenStore,
    options: { syncIntervalMs?: number; onSyncError?: (error: unknown) => void } = {},
  ): Promise<RevocationList> {
    const list = new RevocationList(store);
    await list.sync();
    if (options.syncIntervalMs) {
      list.#stopSyncing = repeatEvery(
        options.syncIntervalMs,
        () => list.sync(),
        options.onSyncError,
      );
    }
    return list;
  }

  /** Whether the token or its refresh family has been revoked. */
  isRevoked(claims: RevocableClaims): boolean {
    return this.#expiry.jti.has(claims.jti) ||
      (claims.sid !== undefined && this.#expiry.sid.has(claims.sid));
  }

  /** Revokes an access token (`jti`) or a refresh family (`sid`) until `expiresAt` (Unix time). */
  async revoke(kind: RevocationRecord["kind"], id: string, expiresAt: UnixSeconds): Promise<void> {
    await this.#store.addRevocation(kind, id, expiresAt);
    this.#remember(kind, id, expiresAt);
  }

  /** Takes note at once of a revocation a store operation has already recorded. */
  remember(record: Pick<RevocationRecord, "kind" | "id" | "expiresAt">): void {
    this.#remember(record.kind, record.id, record.expiresAt);
  }

  /** Reads revocations added since the last sync and forgets expired ones. */
  sync(): Promise<void> {
    this.#syncing ??= this.#pull().finally(() => this.#syncing = undefined);
    return this.#syncing;
  }

  /** Stops the periodic sync. */
  close(): void {
    this.#stopSyncing();
  }

  async #pull(): Promise<void> {
    const now = unixNow();
    for (const record of await this.#store.listRevocations(this.#lastSeq, now)) {
      this.#remember(record.kind, record.id, record.expiresAt);
      this.#lastSeq = Math.max(this.#lastSeq, record.seq);
    }
    for (const entries of [this.#expiry.jti, this.#expiry.sid]) {
      for (const [id, expiresAt] of entries) if (expiresAt <= now) entries.delete(id);
    }
  }

  #remember(kind: RevocationRecord["kind"], id: string, expiresAt: number): void {
    const entries = this.#expiry[kind];
    entries.set(id, Math.max(entries.get(id) ?? 0, expiresAt));
  }
}
