/**
 * @module
 * The command line, and the `deno compile` entry point: `serve`, `certs`, `user`, `keys`,
 * `clients`. It reads the environment once and prints an expected error as one line, without a
 * stack.
 */
import { PasswordHasher } from "./auth/accounts/passwords.ts";
import { createAuditTrail } from "./audit.ts";
import { CertificateError } from "./certs/errors.ts";
import { clientsCommand } from "./cli/clients.ts";
import { keysCommand } from "./cli/keys.ts";
import { InputError } from "./cli/secret.ts";
import { userCommand } from "./cli/user.ts";
import { ConfigError, loadConfig, readEnvironment } from "./config.ts";
import { DemoUsersError, ensureDevCertificate, refuseDemoUsers, seedDemoUsers } from "./dev.ts";
import { createLogger } from "./log.ts";
import { ListenError, type RunningServer, startServer } from "./server.ts";
import { StoreFailure } from "./store/errors.ts";
import { openStore } from "./store/open.ts";

const HELP = `auth-api: an HTTPS token-authentication API

Usage:
  auth-api serve [--dev] [--port N] [--host H]   Serve HTTPS (--dev: make a certificate, seed demo users)
  auth-api serve --check                         Check configuration, certificate and store; do not listen
  auth-api certs [--force] [--ecdsa] [--days N] [--name NAME]...   Make a self-signed certificate
  auth-api user add|passwd|remove NAME           Manage users (password from a prompt or stdin)
  auth-api user logout NAME                      End every session of a user
  auth-api user list
  auth-api keys rotate|list                      Manage ES256 signing keys
  auth-api keys revoke KID                       Stop trusting a (leaked) key at once
  auth-api clients add ID --redirect-uri URI… [--public] [--first-party] [--scope S] [--grant G]…
  auth-api clients list|remove ID|rotate-secret ID   Manage registered OAuth clients

Configuration comes from environment variables; see README.md.`;

/** Said at start when nobody can log in yet: how to add a user. */
export const NO_USERS =
  'The store has no users yet; add one with "deno task user add NAME" (or "auth-api user add NAME") and the same DATABASE_URL as this server';

/** Errors whose message is the whole story: printed as one line, no stack. */
const EXPECTED_ERRORS = [
  ConfigError,
  CertificateError,
  InputError,
  StoreFailure,
  ListenError,
  DemoUsersError,
];

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "serve":
      return await serve(rest, readEnvironment());
    case "certs": {
      // Loaded on demand, like the PostgreSQL client: a server need not carry the certificate
      // builder in memory.
      const { certsCommand } = await import("./cli/certs.ts");
      return await certsCommand(rest);
    }
    case "user":
    case "keys":
    case "clients": {
      const config = loadConfig([], readEnvironment());
      const store = await openStore(config.databaseUrl, {
        rootCertFile: config.databaseRootCert,
        warn: (message) => console.error(`Warning: ${message}`),
      });
      // The command's own words go to stdout; its audit lines, JSON as the server's, to stderr.
      const events = createAuditTrail(createLogger("info", (line) => console.error(line)));
      try {
        if (command === "user") {
          const hasher = new PasswordHasher(config.passwordIterations);
          await userCommand(rest, { store, hasher, events });
        } else if (command === "keys") {
          await keysCommand(rest, { store, config, events });
        } else {
          await clientsCommand(rest, { store, config, events });
        }
      } finally {
        await store.close();
      }
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return command === undefined ? 1 : 0;
    default:
      throw new InputError(`Unknown command "${command}"; run with --help`);
  }
}

async function serve(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const config = loadConfig(args, env);
  if (config.check) {
    const { checkConfiguration } = await import("./check.ts");
    console.log((await checkConfiguration(config)).join("\n"));
    return 0;
  }
  const logger = createLogger(config.logLevel);
  if (config.dev) await ensureDevCertificate(config, logger);
  const store = await openStore(config.databaseUrl, {
    rootCertFile: config.databaseRootCert,
    warn: (message) => logger.log("warn", message),
  });
  try {
    const hasher = new PasswordHasher(config.passwordIterations);
    if (config.dev) await seedDemoUsers(store, hasher, logger);
    else await refuseDemoUsers(store, hasher);
    const empty = (await store.listUsers()).length === 0;
    // Listening before the signal handlers would let an early SIGHUP end the process (its default
    // action), so they are in place first and act once the server exists.
    let server: RunningServer | undefined;
    const exit = () => Deno.exit(0);
    // SIGTERM comes from an orchestrator: answer not-ready while the load balancer takes the
    // instance out, then stop. SIGINT is a person at a terminal: stop now.
    const handlers: [Deno.Signal, () => void][] = [
      ["SIGTERM", () => server ? server.drain().then(exit) : exit()],
      ["SIGINT", () => server ? server.shutdown().then(exit) : exit()],
      ["SIGHUP", () => server?.reloadCertificate("SIGHUP")],
    ];
    for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
    try {
      server = await startServer(config, logger, { store });
    } catch (error) {
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
      throw error;
    }
    if (!logger.enabled("info")) {
      // The JSON "Listening" line is below LOG_LEVEL; the address is still worth one line.
      const redirect = server.httpUrl ? ` (${server.httpUrl} redirects to it)` : "";
      console.error(`Listening on ${server.url}${redirect}`);
    }
    if (empty) logger.log("warn", NO_USERS);
    return await new Promise<never>(() => {});
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Whether LOG_LEVEL asks for stacks; `certs` runs without access to the environment. */
function debugging(): boolean {
  const allowed = Deno.permissions.querySync({ name: "env", variable: "LOG_LEVEL" });
  return allowed.state === "granted" && Deno.env.get("LOG_LEVEL") === "debug";
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    const expected = EXPECTED_ERRORS.some((type) => error instanceof type);
    console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
    if (!expected && debugging()) console.error(error);
    Deno.exitCode = 1;
  }
}
