/**
 * @module
 * The accounts part of the store's contract: users and their password hashes, login throttling,
 * the secrets the service makes for itself (the device-token key), and the account changes that
 * end a user's sessions. It declares records and operations only; the backends implement them.
 */
import type { UnixSeconds } from "../clock.ts";

/** A user account as stored: never a plaintext password. */
export interface UserRecord {
  username: string;
  /**
   * The account's `sub` (OpenID Connect Core §2): opaque, made by the store when the account is
   * added and never given to another account, even one of the same name.
   */
  subject: string;
  passwordHash: string;
  createdAt: UnixSeconds;
}

/** Failure counter for one throttling key (an account, a client address or a device). */
export interface ThrottleRecord {
  failures: number;
  /** Start of the current counting window. */
  windowStartAt: UnixSeconds;
  /** Until when attempts are refused; 0 when not blocked. */
  blockedUntil: UnixSeconds;
  /**
   * Attempts in flight on this key (admitted, their outcome not reported yet), each by the time
   * its reservation lapses, in the order they were made; absent when there are none.
   */
  reservedUntil?: UnixSeconds[];
}

/** What a throttle decision stores (a record, or null to forget the key) and returns. */
export interface ThrottleDecision<T> {
  writes: Record<string, ThrottleRecord | null>;
  result: T;
}

/** What an account change did to the user's sessions. */
export interface AccountChange {
  /** False when there is no such user (then nothing changed). */
  found: boolean;
  /**
   * Sessions that were live and are now ended: families with a usable refresh or access token,
   * and signed-in browsers.
   */
  sessionsEnded: number;
}

/** Users, passwords, throttling, the service's own secrets and the account changes. */
export interface AccountStore {
  /** Finds a user by exact name. */
  getUser(username: string): Promise<UserRecord | undefined>;
  /** Finds a user by their subject. */
  getUserBySubject(subject: string): Promise<UserRecord | undefined>;
  /**
   * Adds a user under a new subject; throws StoreFailure `duplicate_user` when the name is taken
   * and `name_taken` when a client that acts for itself has that id (checked atomically with the
   * insert, against a concurrent `addClient` too). `demo` marks the development mode's
   * demo users, whose passwords are public.
   */
  addUser(username: string, passwordHash: string, options?: { demo?: boolean }): Promise<void>;
  /**
   * Replaces a user's password hash only while it is still `expected`, without touching sessions
   * (an upgrade of the same password, which must never undo a concurrent change); false when it
   * was not replaced.
   */
  replacePasswordHash(username: string, expected: string, passwordHash: string): Promise<boolean>;
  /**
   * Sets a new password (the user is no longer a demo user) and, in the same transaction, ends
   * every session of the user, as {@linkcode AccountStore.endUserSessions} does.
   */
  changePassword(username: string, passwordHash: string, now: UnixSeconds): Promise<AccountChange>;
  /**
   * Removes a user and, in the same transaction, the consents they gave and every session of the
   * user, as {@linkcode AccountStore.endUserSessions} does.
   */
  removeUser(username: string, now: UnixSeconds): Promise<AccountChange>;
  /**
   * Ends every session of a user: revokes each refresh family not yet revoked and records a `sid`
   * revocation for each whose access tokens may still be accepted, and deletes the user's browser
   * sessions (so no browser signed in before can get a code), in one transaction.
   */
  endUserSessions(username: string, now: UnixSeconds): Promise<AccountChange>;
  /** Lists user names in alphabetical order. */
  listUsers(): Promise<string[]>;
  /** Lists the names of demo users in alphabetical order. */
  listDemoUsers(): Promise<string[]>;
  /**
   * Counts users by the PBKDF2 iteration count of their stored hash (the `i=` parameter of
   * `$pbkdf2-sha256$i=N$…`); hashes of another form are not counted.
   */
  countPasswordIterations(): Promise<Map<number, number>>;

  /**
   * The one atomic step of login throttling: reads the state of `keys` (a key without state is
   * absent from the map), lets `decide` choose what to store, stores it and returns `decide`'s
   * result. No other call on any of these keys, from this process or another, runs in between.
   * `decide` is synchronous and runs once; its writes may name only `keys`. When it throws,
   * nothing is stored.
   */
  updateThrottles<T>(
    keys: readonly string[],
    decide: (current: ReadonlyMap<string, ThrottleRecord>) => ThrottleDecision<T>,
  ): Promise<T>;

  /** Stores `candidate` as the secret `name` unless one exists; returns the stored secret. */
  ensureSecret(name: string, candidate: string): Promise<string>;
}
