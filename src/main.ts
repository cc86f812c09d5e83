/**
 * @module
 * The command line, and the `deno compile` entry point: `serve`, `certs`, `user`, `keys`,
 * `clients`. Every command answers `--help`; wrong arguments get an error and a usage line and
 * exit 2, before anything is opened. It reads the environment once and prints an expected error
 * as one line, without a stack.
 */
import { Passwords } from "./auth/accounts/passwords.ts";
import { createAuditTrail } from "./audit.ts";
import { CertificateError } from "./certs/errors.ts";
import { CLIENTS_COMMAND, clientsCommand } from "./cli/clients.ts";
import { KEYS_COMMAND, keysCommand } from "./cli/keys.ts";
import { InputError } from "./terminal.ts";
import { USER_COMMAND, userCommand } from "./cli/user.ts";
import { checkConfiguration, NO_USERS } from "./check.ts";
import { configWarnings } from "./config.ts";
import { readEnvironment } from "./config_environment.ts";
import { loadConfig } from "./config_load.ts";
import { ConfigError } from "./config_values.ts";
import { DemoUsersError, ensureDevCertificate, refuseDemoUsers, seedDemoUsers } from "./dev.ts";
import { configFileProblem } from "./file_permissions.ts";
import { createLogger } from "./log.ts";
import { SERVE_COMMAND, START_COMMAND } from "./serve_command.ts";
import { ListenError } from "./listen.ts";
import { type RunningServer, startServer } from "./server.ts";
import { StoreConfigError, StoreFailure } from "./store/errors.ts";
import { openStore } from "./store/open.ts";
import { helpText, parseCommandLine, PROGRAM, runProgram, UsageError } from "./usage.ts";

/** The summary at the top of the main help. */
const ABOUT = "auth-api: an HTTPS token-authentication API and OpenID provider";

/** The main help: every command with its summary, made from the commands' own definitions. */
async function mainHelp(): Promise<string> {
  const { CERTS_COMMAND } = await import("./cli/certs.ts");
  const commands = [SERVE_COMMAND, CERTS_COMMAND, USER_COMMAND, KEYS_COMMAND, CLIENTS_COMMAND];
  return helpText({
    name: "",
    summary: ABOUT,
    details: [
      "The compiled binary takes the same commands: bin/auth-api COMMAND. Run a command with --help for its options and subcommands; configuration comes from environment variables, each with its default in src/README.md (Configuration). deno task client runs the example client (deno task client --help).",
    ],
    commands,
  });
}

/** Errors whose message is the whole story: printed as one line, no stack. */
const EXPECTED_ERRORS = [
  ConfigError,
  CertificateError,
  InputError,
  StoreFailure,
  StoreConfigError,
  ListenError,
  DemoUsersError,
];

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "serve": {
      const invocation = parseCommandLine(SERVE_COMMAND, rest);
      if (invocation.help !== undefined) {
        return printHelp(rest.includes("--dev") ? helpText(START_COMMAND) : invocation.help);
      }
      return await serve(rest, readEnvironment());
    }
    case "certs": {
      // Loaded on demand, like the PostgreSQL client: a server need not carry the certificate
      // builder in memory.
      const { certsCommand } = await import("./cli/certs.ts");
      return await certsCommand(rest);
    }
    case "user":
    case "keys":
    case "clients": {
      const spec = { user: USER_COMMAND, keys: KEYS_COMMAND, clients: CLIENTS_COMMAND }[command];
      // Arguments are checked, and help printed, before the store is opened.
      const invocation = parseCommandLine(spec, rest);
      if (invocation.help !== undefined) return printHelp(invocation.help);
      const config = loadConfig([], readEnvironment());
      const problem = configFileProblem(config, { tls: false, readOnly: false });
      if (problem) throw new ConfigError(problem);
      const store = await openStore(config.databaseUrl, {
        rootCertFile: config.databaseRootCert,
        warn: (message) => console.error(`Warning: ${message}`),
      });
      // The command's own words go to stdout; its audit lines, JSON as the server's, to stderr.
      const events = createAuditTrail(createLogger("info", (line) => console.error(line)));
      try {
        if (command === "user") {
          const hasher = new Passwords(config.passwordIterations);
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
    case "help":
    case "--help":
    case "-h":
      return printHelp(await mainHelp());
    case undefined:
      throw new UsageError("Missing command", `${PROGRAM} COMMAND [ARGUMENTS]`);
    default:
      throw new UsageError(
        `Unknown command "${command}": use serve, certs, user, keys or clients`,
        `${PROGRAM} COMMAND [ARGUMENTS]`,
      );
  }
}

function printHelp(text: string): number {
  console.log(text);
  return 0;
}

async function serve(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const config = loadConfig(args, env);
  const problem = configFileProblem(config, { tls: true, readOnly: config.check });
  if (problem) throw new ConfigError(problem);
  if (config.check) {
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
    const hasher = new Passwords(config.passwordIterations);
    if (config.dev) await seedDemoUsers(store, hasher, logger);
    else await refuseDemoUsers(store, hasher);
    const empty = (await store.listUsers()).length === 0;
    // Listening before the signal handlers would let an early SIGHUP end the process (its default
    // action), so they are in place first and act once the server exists.
    let server: RunningServer | undefined;
    const exit = () => Deno.exit(0);
    // SIGTERM comes from an orchestrator: answer not-ready while the load balancer takes the
    // instance out, then stop; a repeated SIGTERM joins that drain. SIGINT is a person at a
    // terminal: stop now, skipping the drain (or the rest of it); in-flight requests still
    // finish within SHUTDOWN_TIMEOUT. A repeated SIGINT joins that shutdown, since a terminal's
    // Ctrl-C reaches both `deno task` and the server, and `deno task` forwards its own.
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
    for (const warning of configWarnings(config, server.url)) logger.log("warn", warning);
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
  await runProgram(() => main(Deno.args), (error) => {
    const expected = EXPECTED_ERRORS.some((type) => error instanceof type);
    if (!expected && debugging()) console.error(error);
  });
}
