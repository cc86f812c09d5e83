/**
 * @module
 * The accounts part of the store's contract, its passkeys: each account's WebAuthn credentials
 * (public key, signature counter, transports, backup flags), owned by the account's subject so that
 * they go with the account. It declares records and operations only; the backends implement them,
 * the counter's advance as one conditional statement.
 */
import type { UnixSeconds } from "../clock.ts";

/** A registered passkey (a WebAuthn public-key credential). */
export interface PasskeyRecord {
  /** The credential id, base64url. */
  id: string;
  /** The subject of the account it signs in. */
  subject: string;
  /** The account's name, read with the record (not stored with it). */
  username: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The last signature counter the authenticator gave; 0 for authenticators without one. */
  counter: number;
  /** How the browser may reach the authenticator (`usb`, `internal`, `hybrid`, …). */
  transports: string[];
  /** Whether the credential may be synced to other devices (flag BE). */
  backupEligible: boolean;
  /** Whether it was backed up at its last use (flag BS). */
  backedUp: boolean;
  /** Whether the user was verified when it was registered. */
  userVerified: boolean;
  /** The name its owner gave it. */
  name: string;
  createdAt: UnixSeconds;
  lastUsedAt: UnixSeconds | null;
}

/** What is stored of a new passkey (the owner's name is read from the account). */
export type NewPasskey = Omit<PasskeyRecord, "username" | "lastUsedAt">;

/** Passkeys of accounts. */
export interface PasskeyStore {
  /**
   * Stores a new passkey; false (nothing stored) when its credential id is known already, no
   * account has its subject, or the account has `atMost` passkeys already (checked and stored
   * at once, so concurrent additions never pass the bound).
   */
  addPasskey(passkey: NewPasskey, options?: { atMost?: number }): Promise<boolean>;
  /** The passkey with this credential id, with its owner's name. */
  getPasskey(id: string): Promise<PasskeyRecord | undefined>;
  /** The passkeys of the account `subject`, oldest first. */
  listPasskeys(subject: string): Promise<PasskeyRecord[]>;
  /**
   * Records a use: atomically advances the counter to `counter` only when it is greater than the
   * stored one, or when both are 0 (an authenticator without a counter); false otherwise (a
   * replayed or cloned authenticator's assertion), and nothing changes.
   */
  usePasskey(
    id: string,
    use: { counter: number; backedUp: boolean; now: UnixSeconds },
  ): Promise<boolean>;
  /** Renames one of the account's passkeys; false when it has no such passkey. */
  renamePasskey(subject: string, id: string, name: string): Promise<boolean>;
  /** Removes one of the account's passkeys; false when it has no such passkey. */
  removePasskey(subject: string, id: string): Promise<boolean>;
  /** Removes every passkey of the account; how many there were. */
  removePasskeys(subject: string): Promise<number>;
}
