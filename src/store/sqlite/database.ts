/**
 * @module
 * The one `node:sqlite` connection every part of the embedded store shares: opening it (file
 * modes, pragmas, migrations), running synchronous work as a promise, and write transactions.
 * A database locked by another process past the busy timeout is StoreFailure `unavailable`, as
 * PostgreSQL's outages are. Each query text is prepared once per connection and kept. It knows no
 * table but through schema.ts.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { storeUnavailable } from "../errors.ts";
import type { Row } from "../_rows.ts";
import { secureDatabaseFiles } from "./file_modes.ts";
import { migrate } from "./schema.ts";

/** How long a write waits for another process's lock before the store reports `unavailable`. */
/** How long a connection waits for another one's write lock. */
export const BUSY_TIMEOUT_MS = 5000;
/** SQLITE_BUSY and SQLITE_LOCKED, as node:sqlite words them. */
const LOCKED = /^database (table )?is locked/;
/**
 * Prepared statements kept per connection. The service's queries are a fixed set of texts (about
 * a hundred); the bound only stops a caller that builds texts from values from growing it.
 */
const MAX_STATEMENTS = 256;
/** Each connection's prepared statements by query text, oldest first. */
const statements = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

/** An open, migrated database and what its files' modes were. */
export interface OpenedDatabase {
  db: DatabaseSync;
  /**
   * What was readable or writable by other users when the store was opened: the directory (left
   * as it is) and files (now 0600), as `"path" 0644`; empty when all was private.
   */
  looseModes: readonly string[];
}

/**
 * Opens (creating when needed, the directory 0700 and the files 0600) and migrates the database
 * at `path`; `:memory:` works too. With `readOnly`, an existing database is only read: nothing is
 * created, migrated or made private.
 */
export async function openDatabase(
  path: string,
  { readOnly = false }: { readOnly?: boolean } = {},
): Promise<OpenedDatabase> {
  const looseModes = path === ":memory:" ? [] : await secureDatabaseFiles(path, { readOnly });
  return await run(() => {
    const db = new DatabaseSync(path, { readOnly });
    try {
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON;`);
      if (readOnly) return { db, looseModes };
      db.exec("PRAGMA secure_delete = ON;");
      if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
      if (migrate(db)) truncateLog(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return { db, looseModes };
  });
}

/** Runs synchronous database work as a promise, turning a lock timeout into `unavailable`. */
export function run<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(isLocked(error) ? storeUnavailable(error) : error);
  }
}

/** Runs `work` in one write transaction (taking the write lock at once). */
export function transaction<T>(db: DatabaseSync, work: () => T): Promise<T> {
  return run(() => {
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  });
}

/** The first row `query` answers with `params`, or undefined when there is none. */
export function one(db: DatabaseSync, query: string, ...params: SQLInputValue[]): Row | undefined {
  return statement(db, query).get(...params) as Row | undefined;
}

/** Every row `query` answers with `params`. */
export function all(db: DatabaseSync, query: string, ...params: SQLInputValue[]): Row[] {
  return statement(db, query).all(...params) as Row[];
}

/** Runs the statement `query` with `params`; returns how many rows it changed. */
export function change(db: DatabaseSync, query: string, ...params: SQLInputValue[]): number {
  return Number(statement(db, query).run(...params).changes);
}

/**
 * The prepared statement of `query` on `db`, prepared on first use: preparing costs more than
 * running most of the store's queries. When the bound is reached the oldest is dropped.
 */
function statement(db: DatabaseSync, query: string): StatementSync {
  let prepared = statements.get(db);
  if (!prepared) statements.set(db, prepared = new Map());
  let found = prepared.get(query);
  if (!found) {
    found = db.prepare(query);
    if (prepared.size >= MAX_STATEMENTS) prepared.delete(prepared.keys().next().value!);
    prepared.set(query, found);
  }
  return found;
}

/**
 * Copies every committed page into the database file and empties the write-ahead log, where
 * older versions of changed pages would otherwise remain. A reader in another process may keep
 * the log from being emptied; its next write reuses the log from the start.
 */
export function truncateLog(db: DatabaseSync): void {
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

function isLocked(error: unknown): boolean {
  return (error as { code?: unknown })?.code === "ERR_SQLITE_ERROR" &&
    LOCKED.test((error as Error).message);
}
