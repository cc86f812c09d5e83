/**
 * @module
 * Opening the store a `DATABASE_URL` names, and how its connection is secured: the SQLite
 * files' modes, and PostgreSQL's TLS as libpq's `sslmode` asks. The PostgreSQL client is loaded
 * only when used, so SQLite deployments do not carry it in memory. Problems a person should fix
 * are passed to `warn`, one line each; this module never logs by itself. A setting that cannot
 * work is a StoreConfigError, one line that names the fix. It is the one place that picks a
 * backend.
 */
import { isIP } from "node:net";
import { exists } from "../files.ts";
import { StoreConfigError, StoreFailure } from "./errors.ts";
import type { PostgresTls } from "./postgres/connection.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** How to open the store, besides its URL. */
export interface OpenStoreOptions {
  /**
   * CA certificate file (PEM) that verifies the PostgreSQL server under `sslmode=verify-full`
   * (`PGSSLROOTCERT`); the URL's `sslrootcert` takes precedence.
   */
  rootCertFile?: string;
  /** Receives one line for each problem found on the way that does not stop the start. */
  warn?: (message: string) => void;
  /**
   * Only read, as `serve --check` does: nothing is created, migrated or changed, and PostgreSQL
   * refuses every write of the session. A missing SQLite file is a {@linkcode StoreConfigError}.
   */
  readOnly?: boolean;
}

/**
 * Opens the store named by a `DATABASE_URL`: `sqlite:data/auth.db` (embedded, the default) or
 * `postgres://user:password@host:5432/db?sslmode=verify-full` (shared by several instances).
 */
export async function openStore(
  databaseUrl: string,
  options: OpenStoreOptions = {},
): Promise<Store> {
  if (databaseUrl.startsWith("sqlite:")) return await openSqlite(databaseUrl, options);
  // Only the scheme and host are echoed: the rest may hold a password (user:pass@, ?password=).
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(databaseUrl)?.[0];
  if (scheme === "postgres:" || scheme === "postgresql:") {
    const { url, tls, host } = await postgresConnection(databaseUrl, options.rootCertFile);
    const unverified = tls === false
      ? "is not encrypted"
      : typeof tls === "string"
      ? `is encrypted without checking the server's certificate (sslmode=${tls})`
      : undefined;
    if (unverified && !isLoopback(host)) {
      options.warn?.(
        `DATABASE_URL: the connection to "${host}" ${unverified}; use sslmode=verify-full`,
      );
    }
    const { PostgresStore } = await import("./postgres.ts");
    try {
      return await PostgresStore.open(url, { tls, readOnly: options.readOnly });
    } catch (error) {
      const refused = tls !== false && tls !== "prefer" && await tlsRefused(new URL(url));
      throw new StoreConfigError(
        `Cannot open the DATABASE_URL database at "${new URL(url).host}": ${
          refused
            ? `the server does not offer TLS, which sslmode=${
              typeof tls === "string" ? tls : "verify-full"
            } needs; turn ssl on in its postgresql.conf (with a certificate)`
            : reason(error)
        }`,
      );
    }
  }
  throw new StoreConfigError(
    `DATABASE_URL must start with "sqlite:" or "postgres://"${scheme ? `, not "${scheme}"` : ""}`,
  );
}

/** A store opened to be read only, and how many schema versions it lacks. */
export interface ReadOnlyStore {
  store: Store;
  /** Schema versions `serve` would apply at start; the store may not answer every call before. */
  pendingMigrations: number;
}

/**
 * Opens the store named by a `DATABASE_URL` to be read only, as `serve --check` does (see
 * {@linkcode OpenStoreOptions.readOnly}), and counts the migrations it lacks.
 */
export async function openStoreReadOnly(
  databaseUrl: string,
  options: Omit<OpenStoreOptions, "readOnly"> = {},
): Promise<ReadOnlyStore> {
  const store = await openStore(databaseUrl, { ...options, readOnly: true });
  try {
    return { store, pendingMigrations: await store.pendingMigrations() };
  } catch (error) {
    await store.close();
    throw error;
  }
}

async function openSqlite(databaseUrl: string, options: OpenStoreOptions): Promise<Store> {
  const path = databaseUrl.slice("sqlite:".length);
  if (!path) throw new StoreConfigError(`DATABASE_URL "${databaseUrl}" names no file`);
  let store: SqliteStore;
  try {
    if (options.readOnly && !await exists(path)) {
      throw new StoreConfigError(
        `The DATABASE_URL database "${path}" does not exist (serve would create it, without users); check DATABASE_URL, or create it with deno task user add NAME`,
      );
    }
    store = await SqliteStore.open(path, { readOnly: options.readOnly });
  } catch (error) {
    if (error instanceof StoreConfigError) throw error;
    throw new StoreConfigError(
      `Cannot open the DATABASE_URL database "${path}": ${
        (error as Error).message
      }; set DATABASE_URL to sqlite:PATH of a writable SQLite file, or of a new one`,
    );
  }
  if (store.looseModes.length > 0) {
    options.warn?.(
      `The store holds the signing keys and password hashes, but other users could reach ${
        store.looseModes.join(", ")
      }; ${
        options.readOnly ? "make the files 0600" : "files were made 0600"
      }, make the directory 0700 (chmod 700 DIR)`,
    );
  }
  return store;
}

/**
 * Reads libpq's `sslmode` and `sslrootcert` from a PostgreSQL URL and returns the URL without
 * them (the client would pass `sslrootcert` to the server) and the TLS the client must use.
 * Only `verify-full` checks the server: its chain against the CA file, or the root store when
 * there is none (`sslrootcert=system`), and its certificate against the URL's host.
 */
export async function postgresConnection(
  databaseUrl: string,
  rootCertFile?: string,
): Promise<{ url: string; tls: PostgresTls; host: string }> {
  if (!URL.canParse(databaseUrl)) {
    throw new StoreConfigError(
      "DATABASE_URL must be a URL such as postgres://user:password@host:5432/db",
    );
  }
  const parsed = new URL(databaseUrl);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host || !parsed.username || parsed.pathname.length < 2) {
    throw new StoreConfigError(
      "DATABASE_URL must name the user, host and database: postgres://user:password@host:5432/db",
    );
  }
  const mode = parsed.searchParams.get("sslmode") ?? "disable";
  const rootCert = parsed.searchParams.get("sslrootcert") ?? rootCertFile;
  parsed.searchParams.delete("sslmode");
  parsed.searchParams.delete("sslrootcert");
  const url = parsed.href;
  switch (mode) {
    case "disable":
    case "allow":
    case "prefer":
    case "require":
      if (rootCert !== undefined) {
        throw new StoreConfigError(
          `A root certificate is given (sslrootcert or PGSSLROOTCERT), but sslmode "${mode}" would not use it; use sslmode=verify-full`,
        );
      }
      return { url, tls: mode === "disable" ? false : mode, host };
    case "verify-full":
      return {
        url,
        host,
        tls: {
          rejectUnauthorized: true,
          // The host the certificate must name; node:tls would otherwise check "localhost"
          // whenever the URL's host is an IP address, since no server name is sent for those.
          host,
          ...(isIP(host) === 0 && { servername: host }),
          ...(rootCert !== undefined && rootCert !== "system" && {
            ca: await readRootCert(rootCert),
          }),
        },
      };
    default:
      throw new StoreConfigError(
        `DATABASE_URL: sslmode "${mode}" is not supported; use verify-full, or require (which encrypts without checking the server)`,
      );
  }
}

async function readRootCert(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new StoreConfigError(
      `Cannot read the PostgreSQL root certificate "${path}": ${(error as Error).message}`,
    );
  }
}

function reason(error: unknown): string {
  if (error instanceof StoreFailure && error.code === "unavailable") {
    return "the server cannot be reached";
  }
  const message = (error as Error).message.split("\n", 1)[0];
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && /CERT|TLS|SSL|UNABLE_TO|SIGNATURE/.test(code)) {
    return `the server's certificate was refused: ${message} (${code}); check PGSSLROOTCERT and the host name in DATABASE_URL`;
  }
  return message;
}

/** The first byte PostgreSQL answers an SSLRequest with when it will not speak TLS. */
const NO_TLS = "N".charCodeAt(0);
/** How long the TLS question may take once a connection has failed. */
const TLS_PROBE_TIMEOUT_MS = 2000;

/**
 * Whether the server at `url` answers PostgreSQL's SSLRequest with "no", asked after a
 * connection that wanted TLS failed: the client reports that as a closed connection.
 */
async function tlsRefused(url: URL): Promise<boolean> {
  const signal = AbortSignal.timeout(TLS_PROBE_TIMEOUT_MS);
  try {
    using conn = await Deno.connect({
      hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(url.port || 5432),
      signal,
    });
    // SSLRequest: length 8, then the code 1234 5679.
    await conn.write(new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    const answer = new Uint8Array(1);
    const read = await Promise.race([
      conn.read(answer),
      new Promise<null>((resolve) => signal.addEventListener("abort", () => resolve(null))),
    ]);
    return read === 1 && answer[0] === NO_TLS;
  } catch {
    return false;
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
