import { parseArgs } from "node:util";

/** Settings of one benchmark run, from the command line. */
export interface BenchOptions {
  /** Smoke run: short runs, one round. */
  quick: boolean;
  /** Rounds of the alternating /hello runs (ours, the bare servers, the framework peers). */
  rounds: number;
  /** Seconds of each measured wrk run. */
  durationSeconds: number;
  /** Seconds of the unrecorded wrk run that warms each server up. */
  warmupSeconds: number;
  /** Connections of the /hello load. */
  helloConnections: number;
  /** Connections of the /login load, alone and during the storm. */
  loginConnections: number;
  /** LOG_LEVEL of our server; "info" writes the access log, as in production. */
  logLevel: "debug" | "info" | "warn" | "error";
  /** Where the JSON results go. */
  out: string;
  /** Whether to print the help and stop. */
  help: boolean;
}

/** The help text of `deno task bench`. */
export const USAGE = `Usage: deno task bench [--quick] [--rounds N] [--duration S] [--out PATH]

Measures /hello and /login under wrk load against bare Deno.serve ceilings, the password-hash
ceiling, /hello during a login storm, micro-benchmarks (deno bench), start-up time and memory,
/hello during floods of forged and valid tokens, a new client's login while 1,000 slow
connections are open (behind HAProxy when it is installed, and against the server alone), and
client_credentials grants against panva's oidc-provider (on Node when installed, else on Deno),
and each endpoint's p50 and p99 latency on one kept-alive connection.
Prints a table and writes the same figures as JSON.

Options:
  --quick                 Smoke run: 3 s per run, 1 round
  --rounds N              Alternating rounds of the /hello and flood runs (default 2; 1 with --quick)
  --duration S            Seconds per measured wrk run (default 10; 3 with --quick)
  --connections N         wrk connections for /hello (default 32)
  --login-connections N   wrk connections for /login (default 4)
  --log-level LEVEL       LOG_LEVEL of our server: debug, info, warn, error (default info)
  --out PATH              JSON results file (default tests/bench/results.json)
  -h, --help              Show this help`;

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * Parses the benchmark's flags; throws an Error with a one-line message when one is invalid.
 *
 * @example
 * ```ts
 * const options = parseBenchArgs(["--quick"], "tests/bench/results.json");
 * ```
 */
export function parseBenchArgs(args: string[], defaultOut: string): BenchOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: "boolean", default: false },
      rounds: { type: "string" },
      duration: { type: "string" },
      connections: { type: "string" },
      "login-connections": { type: "string" },
      "log-level": { type: "string", default: "info" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const quick = values.quick;
  const logLevel = values["log-level"] as BenchOptions["logLevel"];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`--log-level must be one of ${LOG_LEVELS.join(", ")}, not "${logLevel}"`);
  }
  const durationSeconds = whole("--duration", values.duration, quick ? 3 : 10, 1, 600);
  return {
    quick,
    rounds: whole("--rounds", values.rounds, quick ? 1 : 2, 1, 50),
    durationSeconds,
    warmupSeconds: quick ? 1 : 2,
    helloConnections: whole("--connections", values.connections, 32, 1, 10_000),
    loginConnections: whole("--login-connections", values["login-connections"], 4, 1, 256),
    logLevel,
    out: values.out ?? defaultOut,
    help: values.help,
  };
}

function whole(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return parsed;
}
