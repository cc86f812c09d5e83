/**
 * @module
 * Every error of the store layer. Both stores throw StoreFailure, with a stable `code`, for
 * conditions a caller can act on at run time; the edge's error table turns them into responses.
 * Opening a store throws StoreConfigError for a setting a person must fix before it can start.
 */

/**
 * - `unavailable`: the database cannot be reached or is busy right now; retry shortly.
 * - `duplicate_user`: a user of that name exists.
 * - `duplicate_client`: a client of that id is registered.
 * - `name_taken`: a user's name would be the id of a client that acts for itself (client
 *   credentials), or that client's id a user's name or subject: their tokens must never be taken
 *   for one another.
 */
export type StoreErrorCode = "unavailable" | "duplicate_user" | "duplicate_client" | "name_taken";

/** A store operation that failed for a reason the caller can act on. */
export class StoreFailure extends Error {
  /** What went wrong, stable across versions. */
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreFailure";
    this.code = code;
  }
}

/** The failure for adding a user whose name is taken. */
export function duplicateUser(username: string): StoreFailure {
  return new StoreFailure("duplicate_user", `User "${username}" already exists`);
}

/** The failure for registering a client whose id is taken. */
export function duplicateClient(clientId: string): StoreFailure {
  return new StoreFailure("duplicate_client", `Client "${clientId}" already exists`);
}

/** The failure for adding a user named like a client that acts for itself. */
export function userNameTaken(username: string): StoreFailure {
  return new StoreFailure(
    "name_taken",
    `Name "${username}" is the id of a client that acts for itself (client_credentials); a user needs another name`,
  );
}

/** The failure for registering a client that acts for itself under a user's name or subject. */
export function clientIdTaken(clientId: string): StoreFailure {
  return new StoreFailure(
    "name_taken",
    `Client id "${clientId}" is a user's name or subject; a client_credentials client needs an id no user has`,
  );
}

/** The failure for a database that cannot answer now, keeping the driver's error as `cause`. */
export function storeUnavailable(error: unknown): StoreFailure {
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreFailure("unavailable", `Database unavailable: ${reason}`, { cause: error });
}

/**
 * A `DATABASE_URL` (or `PGSSLROOTCERT`) that cannot work, or a database that cannot be opened
 * with it: one line that names the setting and the fix, never a password.
 */
export class StoreConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreConfigError";
  }
}
