/**
 * @module
 * `serve --check`: validates the configuration, the certificate and key, and that the store
 * answers, then prints what the service would serve with — without listening and without
 * writing to the store. For deploy pipelines. Never prints a secret.
 */
import { PasswordHasher } from "./auth/accounts/passwords.ts";
import { loadTlsFiles } from "./certs/load.ts";
import { unixNow } from "./clock.ts";
import { type Config, urlHost } from "./config.ts";
import { refuseDemoUsers } from "./dev.ts";
import { openStore } from "./store/open.ts";

/**
 * Runs the checks; resolves to the lines to print (with the warnings `serve` would log), or
 * rejects with the first problem (a ConfigError, CertificateError, StoreFailure or, as `serve`
 * without `--dev` would, DemoUsersError, each one line).
 */
export async function checkConfiguration(config: Config): Promise<string[]> {
  await loadTlsFiles(config.tlsCert, config.tlsKey);
  const warnings: string[] = [];
  const store = await openStore(config.databaseUrl, {
    rootCertFile: config.databaseRootCert,
    warn: (message) => warnings.push(`  Warning     ${message}`),
  });
  let users: number;
  let keys: string;
  try {
    await store.ping();
    if (!config.dev) await refuseDemoUsers(store, new PasswordHasher(config.passwordIterations));
    users = (await store.listUsers()).length;
    const signing = await store.listSigningKeys(unixNow());
    keys = config.jwtSecret !== undefined
      ? "HS256 with JWT_SECRET"
      : signing.length === 0
      ? "ES256, a first key pair is made at start"
      : `${signing[0].alg}, ${signing.length} key(s) verifying, current "${signing[0].kid}"`;
  } finally {
    await store.close();
  }
  const httpsUrl = `https://${urlHost(config.host)}:${config.port}`;
  return [
    "Configuration OK",
    `  HTTPS       ${httpsUrl}${config.publicUrl ? ` (public URL ${config.publicUrl})` : ""}`,
    `  Redirect    ${config.httpPort === undefined ? "off" : `http port ${config.httpPort}`}`,
    `  Metrics     ${
      config.metricsPort === undefined
        ? "off"
        : `http://${urlHost(config.metricsHost)}:${config.metricsPort}/metrics`
    }`,
    `  TLS         ${config.tlsCert}, ${config.tlsKey} (valid, key matches)`,
    `  Store       ${describeStore(config.databaseUrl)} (answers; ${users} user(s))`,
    `  Signing     ${keys}`,
    `  Tokens      access ${config.accessTokenTtlSeconds} s, refresh ${config.refreshTokenTtlSeconds} s, leeway ${config.clockLeewaySeconds} s`,
    `  Scopes      ${config.scopes.supported.join(" ")} (default "${config.scopes.defaultScope}")`,
    ...warnings,
  ];
}

/** The store's kind and place, without credentials. */
function describeStore(databaseUrl: string): string {
  if (databaseUrl.startsWith("sqlite:")) return databaseUrl;
  const host = URL.canParse(databaseUrl) ? new URL(databaseUrl).host : "";
  return `PostgreSQL at ${host}`;
}
