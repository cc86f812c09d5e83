/**
 * @module
 * `serve --check`: validates the configuration, the certificate and key, and that the store
 * answers, then prints what the service would serve with — without listening and without
 * writing: the store is opened read-only, never created or migrated. For deploy pipelines.
 * Never prints a secret.
 */
import { Passwords } from "./auth/accounts/passwords.ts";
import { loadTlsFiles } from "./certs/load.ts";
import { unixNow } from "./clock.ts";
import { type Config, configWarnings, urlHost } from "./config.ts";
import { refuseDemoUsers } from "./dev.ts";
import { metricsUrlFor } from "./metrics_listener.ts";
import type { Store } from "./store/store.ts";
import { openStoreReadOnly } from "./store/open.ts";

/** Said when nobody can log in yet: how to add a user. */
export const NO_USERS =
  'The store has no users yet; add one with "deno task user add NAME" (or "auth-api user add NAME") and the same DATABASE_URL as this server';

/**
 * Runs the checks; resolves to the lines to print (with the warnings `serve` would log), or
 * rejects with the first problem (a ConfigError, CertificateError, StoreConfigError, StoreFailure
 * or, as `serve` without `--dev` would, DemoUsersError, each one line). A missing SQLite store is a
 * StoreConfigError; one that lacks migrations is read no further than its state, with a warning.
 */
export async function checkConfiguration(config: Config): Promise<string[]> {
  await loadTlsFiles(config.tlsCert, config.tlsKey);
  const warnings: string[] = [];
  const { store, pendingMigrations } = await openStoreReadOnly(config.databaseUrl, {
    rootCertFile: config.databaseRootCert,
    warn: (message) => warnings.push(message),
  });
  let contents: string;
  let keys: string;
  try {
    await store.ping();
    if (pendingMigrations > 0) {
      warnings.push(
        `The store lacks ${pendingMigrations} schema version(s), which serve applies at start; its users and keys were not read`,
      );
      contents = `${pendingMigrations} migration(s) pending`;
      keys = describeKeys(config, []);
    } else {
      if (!config.dev) await refuseDemoUsers(store, new Passwords(config.passwordIterations));
      const users = (await store.listUsers()).length;
      if (users === 0) warnings.push(NO_USERS);
      contents = `${users} user(s)`;
      keys = describeKeys(config, await store.listSigningKeys(unixNow()));
    }
  } finally {
    await store.close();
  }
  const httpsUrl = `https://${urlHost(config.host)}:${config.port}`;
  warnings.push(...configWarnings(config, httpsUrl));
  return [
    "Configuration OK",
    `  HTTPS       ${httpsUrl}${config.publicUrl ? ` (public URL ${config.publicUrl})` : ""}`,
    `  Redirect    ${config.httpPort === undefined ? "off" : `http port ${config.httpPort}`}`,
    `  Metrics     ${
      config.metricsPort === undefined
        ? "off"
        : metricsUrlFor(config.metricsHost, config.metricsPort)
    }`,
    `  TLS         ${config.tlsCert}, ${config.tlsKey} (valid, key matches)`,
    `  Store       ${describeStore(config.databaseUrl)} (answers; ${contents})`,
    `  Signing     ${keys}`,
    `  Tokens      access ${config.accessTokenTtlSeconds} s, refresh ${config.refreshTokenTtlSeconds} s, leeway ${config.clockLeewaySeconds} s`,
    `  Scopes      ${config.scopes.supported.join(" ")} (default "${config.scopes.defaultScope}")`,
    ...warnings.map((warning) => `  Warning     ${warning}`),
  ];
}

function describeKeys(
  config: Config,
  signing: Awaited<ReturnType<Store["listSigningKeys"]>>,
): string {
  if (config.jwtSecret !== undefined) return "HS256 with JWT_SECRET";
  if (signing.length === 0) return `${config.jwtAlg}, a first key pair is made at start`;
  return `${signing[0].alg}, ${signing.length} key(s) verifying, current "${signing[0].kid}"`;
}

/** The store's kind and place, without credentials. */
function describeStore(databaseUrl: string): string {
  if (databaseUrl.startsWith("sqlite:")) return databaseUrl;
  const host = URL.canParse(databaseUrl) ? new URL(databaseUrl).host : "";
  return `PostgreSQL at ${host}`;
}
