import { dirname } from "node:path";
import { ConfigError } from "../config.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** Opens the store named by a `DATABASE_URL` such as `sqlite:data/auth.db`. */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith("sqlite:")) {
    const path = databaseUrl.slice("sqlite:".length);
    if (!path) throw new ConfigError(`DATABASE_URL "${databaseUrl}" names no file`);
    if (path !== ":memory:") await Deno.mkdir(dirname(path), { recursive: true });
    try {
      return SqliteStore.open(path);
    } catch (error) {
      throw new ConfigError(`Cannot open database "${path}": ${(error as Error).message}`);
    }
  }
  // Only the scheme is echoed: the rest may hold a password (user:pass@ or ?password=).
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(databaseUrl)?.[0];
  throw new ConfigError(
    `DATABASE_URL must start with "sqlite:"${scheme ? `, not "${scheme}"` : ""}`,
  );
}
