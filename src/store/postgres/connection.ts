/**
 * @module
 * The PostgreSQL connection pool every part of the shared store uses: the client's settings, the
 * TLS that the URL's `sslmode` asks for, and running work so that a database that cannot be
 * reached is StoreFailure `unavailable`; every other failure keeps the driver's error.
 */
import postgres from "postgres";
import { storeUnavailable } from "../errors.ts";

/**
 * TLS for the PostgreSQL client: `false` (cleartext), a mode that encrypts without verifying
 * (`prefer`, `allow`, `require`), or node:tls options that verify the chain and the host name.
 */
export type PostgresTls =
  | false
  | "prefer"
  | "allow"
  | "require"
  | { rejectUnauthorized: true; host: string; servername?: string; ca?: string };

/** The connection pool. */
export type Sql = postgres.Sql;
/** One transaction's connection. */
export type Transaction = postgres.TransactionSql;

/** How to connect, besides the URL. */
export interface ConnectOptions {
  /** Connections kept at most (10 by default). */
  maxConnections?: number;
  /** What the URL's `sslmode` asks for (see open.ts); cleartext without it. */
  tls?: PostgresTls;
  /** The server refuses every write of the session, and nothing is migrated. */
  readOnly?: boolean;
}

/**
 * The client's own defaults, given here so that it takes none of them from PG* environment
 * variables (it still reads PGAPPNAME, PGTARGETSESSIONATTRS, and PGPASSWORD when the URL has no
 * password). `debug` stays off: it would attach queries and their parameters to errors.
 */
const CLIENT_DEFAULTS = {
  sslnegotiation: null,
  // Connections are replaced after 30 to 60 minutes, as the client does by default.
  max_lifetime: 60 * (30 + Math.random() * 30),
  max_pipeline: 100,
  keep_alive: 60,
  prepare: true,
  debug: false,
  fetch_types: true,
  publications: "alltables",
  target_session_attrs: undefined,
} as const;

/** Connections each instance keeps at most. */
const DEFAULT_MAX_CONNECTIONS = 10;

/** SQLSTATE classes and client error codes that mean "the database cannot be reached now". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
]);

/** A pool for `url`; it connects on the first query. */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    ...CLIENT_DEFAULTS,
    max: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    ssl: options.tls ?? false,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 60,
    // The client's default reconnect backoff grows to 20 s after a few failed attempts (shared
    // by the pool), so queries would wait that long while the database is down and after it is
    // back; capped at 0.5 s they fail fast (503) and recover quickly.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    transform: { undefined: null },
    ...(options.readOnly && { connection: { default_transaction_read_only: true } }),
  });
}

/** Runs queries, turning connection failures into `unavailable`. */
export async function run<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw isUnavailable(error) ? storeUnavailable(error) : error;
  }
}

/** Runs `work` in one transaction, turning connection failures into `unavailable`. */
export function transaction<T>(sql: Sql, work: (tx: Transaction) => Promise<T>): Promise<T> {
  return run(async () => await sql.begin(work) as T);
}

function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"));
}
