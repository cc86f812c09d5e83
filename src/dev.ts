/**
 * @module
 * Development mode (`serve --dev`, `deno task start`): a self-signed certificate and the
 * tutorial's demo users, so that the quick start works on a fresh clone. Never used by `serve`.
 */
import type { PasswordHasher } from "./auth/passwords.ts";
import { type Config, DEFAULT_CERT_DIR, DEFAULT_TLS_CERT, DEFAULT_TLS_KEY } from "./config.ts";
import type { Logger } from "./log.ts";
import { StoreFailure } from "./store/errors.ts";
import type { Store } from "./store/store.ts";

/** The tutorial's accounts, created only in development mode. */
export const DEMO_USERS: Readonly<Record<string, string>> = {
  user1: "password1",
  user2: "password2",
};

/** Makes a self-signed certificate in certs/ when the configured default files are missing. */
export async function ensureDevCertificate(config: Config, logger: Logger): Promise<void> {
  const usesDefaults = config.tlsCert === DEFAULT_TLS_CERT && config.tlsKey === DEFAULT_TLS_KEY;
  if (!usesDefaults || (await exists(config.tlsCert) && await exists(config.tlsKey))) return;
  const { writeCertificateFiles } = await import("./certs/generate.ts");
  const paths = await writeCertificateFiles(DEFAULT_CERT_DIR, {});
  logger.log("info", "Created a self-signed certificate", { cert: paths.certPath });
}

/**
 * Creates whichever demo users are missing, even in a store that has other users, and says in
 * one warning line which were created and that they exist. A user of that name added by someone
 * else meanwhile (another instance) counts as present; existing passwords are left alone.
 */
export async function seedDemoUsers(
  store: Store,
  hasher: PasswordHasher,
  logger: Logger,
): Promise<void> {
  const created: string[] = [];
  for (const [name, password] of Object.entries(DEMO_USERS)) {
    if (await store.getUser(name)) continue;
    try {
      await store.addUser(name, await hasher.hash(password));
      created.push(name);
    } catch (error) {
      if (!(error instanceof StoreFailure && error.code === "duplicate_user")) throw error;
    }
  }
  const msg = created.length > 0
    ? "Development mode: created the demo users with the tutorial's passwords"
    : "Development mode: demo users exist with the tutorial's passwords";
  logger.log("warn", msg, { users: Object.keys(DEMO_USERS), created });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
