/**
 * @module
 * The sign-in part of the store's contract, its pushed requests: authorization requests a client
 * pushed before sending the browser (RFC 9126), each named by the SHA-256 of its `request_uri`,
 * bound to its client, usable once and for a minute. It declares records and operations only; the
 * backends implement them.
 */
import type { UnixSeconds } from "../clock.ts";
import type { PendingAdmission } from "./sign_in.ts";

/** A pushed authorization request as stored: only the SHA-256 of its `request_uri`. */
export interface PushedRequestRecord {
  /** SHA-256 (hex) of the secret part of the `request_uri`. */
  idHash: string;
  /** The client that pushed it: only that client may use it. */
  clientId: string;
  /** The request's parameters, as JSON (the domain's own shape). */
  parameters: string;
  /**
   * The client address (group) an unauthenticated push came from, counted against that address's
   * cap; null for pushes that are not counted.
   */
  address: string | null;
  createdAt: UnixSeconds;
  expiresAt: UnixSeconds;
  /** When it was used at the authorization endpoint; a second use is refused. */
  usedAt: UnixSeconds | null;
}

/** What happened when a pushed request was asked for. */
export type PushedRequestOutcome =
  /** It was unused, unexpired and the client's: now it is used. */
  | { outcome: "taken"; record: PushedRequestRecord }
  /** It exists but was used before, expired, or belongs to another client: nothing changed. */
  | { outcome: "used" | "expired" | "other_client" }
  | { outcome: "unknown" };

/** Pushed authorization requests. */
export interface PushedRequestStore {
  /**
   * Stores a new pushed request. With `maxPerAddress` and an `address` on the record, it is
   * stored only while that address has fewer live pushed requests (unexpired at `createdAt`); the
   * count and the insert are one atomic step across every connection, and the address's expired
   * requests are deleted with it.
   */
  addPushedRequest(record: PushedRequestRecord, maxPerAddress?: number): Promise<PendingAdmission>;
  /**
   * Atomically marks a pushed request used, when it is unused, unexpired at `now` and
   * `clientId`'s ("taken"); of concurrent callers, on every connection, exactly one takes it.
   * Otherwise it says why, changing nothing.
   */
  takePushedRequest(
    idHash: string,
    clientId: string,
    now: UnixSeconds,
  ): Promise<PushedRequestOutcome>;
}
