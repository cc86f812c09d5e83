/**
 * @module
 * Development mode (`serve --dev`, `deno task start`): a self-signed certificate and the
 * tutorial's demo users, so that the quick start works on a fresh clone. The demo users are
 * marked in the store, and `serve` without `--dev` refuses to start while any exist.
 */
import type { Passwords } from "./auth/accounts/passwords.ts";
import { DEFAULT_CERT_DIR, DEFAULT_TLS_CERT, DEFAULT_TLS_KEY } from "./certs/default_paths.ts";
import type { Config } from "./config.ts";
import { exists } from "./files.ts";
import type { Logger } from "./log.ts";
import { StoreFailure } from "./store/errors.ts";
import type { AccountStore } from "./store/accounts.ts";

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

/** Demo users (whose passwords are public) found in a store that is about to serve for real. */
export class DemoUsersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DemoUsersError";
  }
}

/**
 * Creates whichever demo users are missing, marked as such, even in a store that has other users,
 * and says in one warning line which were created and that they exist. A user of that name added
 * by someone else meanwhile (another instance) counts as present; existing passwords are left
 * alone.
 */
export async function seedDemoUsers(
  store: AccountStore,
  hasher: Passwords,
  logger: Logger,
): Promise<void> {
  const created: string[] = [];
  for (const [name, password] of Object.entries(DEMO_USERS)) {
    if (await store.getUser(name)) continue;
    try {
      await store.addUser(name, await hasher.hash(password), { demo: true });
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

/**
 * Throws {@linkcode DemoUsersError}, saying how to remove them, when the store holds demo users:
 * those marked as such, and (in stores seeded before they were marked) the tutorial's names
 * that still have the tutorial's passwords.
 */
export async function refuseDemoUsers(store: AccountStore, hasher: Passwords): Promise<void> {
  const found = new Set(await store.listDemoUsers());
  for (const [name, password] of Object.entries(DEMO_USERS)) {
    if (found.has(name)) continue;
    const user = await store.getUser(name);
    if (user && (await hasher.verify(password, user.passwordHash)).ok) found.add(name);
  }
  if (found.size === 0) return;
  const names = [...found].sort();
  throw new DemoUsersError(
    `The store holds demo users with public passwords (${
      names.join(", ")
    }), made by deno task start; remove them with: ${
      names.map((name) => `deno task user remove ${name}`).join(" && ")
    }`,
  );
}
