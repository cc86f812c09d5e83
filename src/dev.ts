/**
 * @module
 * Development mode (`serve --dev`, `deno task start`): a self-signed certificate and the
 * tutorial's demo users, so that the quick start works on a fresh clone. Never used by `serve`.
 */
import type { PasswordHasher } from "./auth/passwords.ts";
import { type Config, DEFAULT_CERT_DIR, DEFAULT_TLS_CERT, DEFAULT_TLS_KEY } from "./config.ts";
import type { Logger } from "./log.ts";
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

/** Seeds the demo users into an empty store and warns that they exist. */
export async function seedDemoUsers(store: Store, hasher: PasswordHasher, logger: Logger) {
  if ((await store.listUsers()).length === 0) {
    for (const [name, password] of Object.entries(DEMO_USERS)) {
      await store.addUser(name, await hasher.hash(password));
    }
  }
  const present = [];
  for (const name of Object.keys(DEMO_USERS)) {
    if (await store.getUser(name)) present.push(name);
  }
  if (present.length > 0) {
    logger.log("warn", "Development mode: demo users exist with the tutorial's passwords", {
      users: present,
    });
  }
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
