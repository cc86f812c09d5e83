/**
 * @module
 * The revocation list: revoked access tokens (`jti`), refresh families (`sid`) and the access
 * tokens of removed clients (by `client_id` and `iat`), kept in memory from the store's list so
 * that a check on every request costs a few map lookups.
 */
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { RevocationRecord, TokenStore } from "../../store/tokens.ts";
import { repeatEvery } from "../_repeat.ts";

/** The claims a revocation can match. */
export interface RevocableClaims {
  jti: string;
  sid?: string;
  client_id?: string;
  iat?: UnixSeconds;
}

/** A removed client's revocation: its tokens issued until `issuedUntil`, kept until `expiresAt`. */
interface ClientCutoff {
  issuedUntil: UnixSeconds;
  expiresAt: UnixSeconds;
}

/**
 * Revoked access tokens (`jti`), refresh families (`sid`) and removed clients' access tokens: an
 * in-memory copy of the store's list, updated at once for revocations made here and re-read
 * periodically for those made by other instances (and by `clients remove`), so that a check
 * costs a few map lookups.
 *
 * @example
 * ```ts
 * const revocations = await Revocations.open(store, { syncIntervalMs: 1000 });
 * await revocations.revoke("jti", claims.jti, claims.exp);
 * revocations.isRevoked(claims); // true
 * ```
 */
export class Revocations {
  #store: TokenStore;
  #expiry = { jti: new Map<string, number>(), sid: new Map<string, number>() };
  #clients = new Map<string, ClientCutoff>();
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
  ): Promise<Revocations> {
    const list = new Revocations(store);
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

  /**
   * Whether the token or its refresh family has been revoked, or its client was removed after
   * issuing it (a token without `iat` counts as issued before).
   */
  isRevoked(claims: RevocableClaims): boolean {
    if (this.#expiry.jti.has(claims.jti)) return true;
    if (claims.sid !== undefined && this.#expiry.sid.has(claims.sid)) return true;
    const cutoff = claims.client_id === undefined ? undefined : this.#clients.get(claims.client_id);
    return cutoff !== undefined && (claims.iat ?? 0) <= cutoff.issuedUntil;
  }

  /** Revokes an access token (`jti`) or a refresh family (`sid`) until `expiresAt` (Unix time). */
  async revoke(kind: "jti" | "sid", id: string, expiresAt: UnixSeconds): Promise<void> {
    await this.#store.addRevocation(kind, id, expiresAt);
    this.#remember(kind, id, expiresAt);
  }

  /** Takes note at once of a revocation a store operation has already recorded. */
  remember(record: Omit<RevocationRecord, "seq">): void {
    if (record.kind !== "client") {
      this.#remember(record.kind, record.id, record.expiresAt);
      return;
    }
    const earlier = this.#clients.get(record.id);
    this.#clients.set(record.id, {
      issuedUntil: Math.max(earlier?.issuedUntil ?? 0, record.issuedUntil ?? 0),
      expiresAt: Math.max(earlier?.expiresAt ?? 0, record.expiresAt),
    });
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
      this.remember(record);
      this.#lastSeq = Math.max(this.#lastSeq, record.seq);
    }
    for (const entries of [this.#expiry.jti, this.#expiry.sid]) {
      for (const [id, expiresAt] of entries) if (expiresAt <= now) entries.delete(id);
    }
    for (const [id, { expiresAt }] of this.#clients) if (expiresAt <= now) this.#clients.delete(id);
  }

  #remember(kind: "jti" | "sid", id: string, expiresAt: number): void {
    const entries = this.#expiry[kind];
    entries.set(id, Math.max(entries.get(id) ?? 0, expiresAt));
  }
}
