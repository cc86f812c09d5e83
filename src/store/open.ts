/**
 * @module
 * Opening the store a `DATABASE_URL` names. The PostgreSQL client is loaded only when used, so
 * SQLite deployments do not carry it in memory.
 */
import { dirname } from "node:path";
import { ConfigError } from "../config.ts";
import { StoreFailure } from "./errors.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/**
 * Opens the store named by a `DATABASE_URL`: `sqlite:data/auth.db` (embedded, the default) or
 * `postgres://user:password@host:5432/db` (shared by several instances).
 */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith("sqlite:")) {
    const path = databaseUrl.slice("sqlite:".length);
    if (!path) throw new ConfigError(`DATABASE_URL "${databaseUrl}" names no file`);
    try {
      if (path !== ":memory:") await Deno.mkdir(dirname(path), { recursive: true });
      return await SqliteStore.open(path);
    } catch (error) {
      throw new ConfigError(
        `Cannot open the DATABASE_URL database "${path}": ${
          (error as Error).message
        }; set DATABASE_URL to sqlite:PATH of a writable SQLite file, or of a new one`,
      );
    }
  }
  // Only the scheme and host are echoed: the rest may hold a password (user:pass@, ?password=).
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(databaseUrl)?.[0];
  if (scheme === "postgres:" || scheme === "postgresql:") {
    const { PostgresStore } = await import("./postgres.ts");
    try {
      return await PostgresStore.open(databaseUrl);
    } catch (error) {
      const host = URL.canParse(databaseUrl) ? new URL(databaseUrl).host : "";
      const reason = error instanceof StoreFailure && error.code === "unavailable"
        ? "the server cannot be reached"
        : firstLine((error as Error).message);
      throw new ConfigError(`Cannot open the DATABASE_URL database at "${host}": ${reason}`);
    }
  }
  throw new ConfigError(
    `DATABASE_URL must start with "sqlite:" or "postgres://"${scheme ? `, not "${scheme}"` : ""}`,
  );
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0];
}
