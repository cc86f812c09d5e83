/**
 * @module
 * The command line of `deno task bench`: its options, from which its parser and its help are
 * made, and the settings of a run they give. It measures nothing.
 */
import { type CommandSpec, parseCommandLine, UsageError, usageLine } from "../../src/usage.ts";

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
  help?: undefined;
}

/** The command line of `deno task bench`, from which its parser and its help are made. */
export const BENCH_COMMAND: CommandSpec = {
  name: "bench",
  summary:
    "Measure /hello and /login under wrk load against bare Deno.serve ceilings, the password-hash ceiling, /hello during a login storm, micro-benchmarks (deno bench), start-up time and memory, /hello during floods of forged and valid tokens, a new client's login while 1,000 slow connections are open (behind HAProxy when it is installed, and against the server alone), client_credentials grants against panva's oidc-provider (on Node when installed, else on Deno), and each endpoint's p50 and p99 latency on one kept-alive connection.",
  details: ["Prints a table and writes the same figures as JSON. Needs wrk."],
  options: [
    { name: "quick", help: "Smoke run: 3 s per run, 1 round" },
    {
      name: "rounds",
      value: "N",
      help: "Alternating rounds of the /hello and flood runs (default 2; 1 with --quick)",
    },
    {
      name: "duration",
      value: "S",
      help: "Seconds per measured wrk run (default 10; 3 with --quick)",
    },
    { name: "connections", value: "N", help: "wrk connections for /hello (default 32)" },
    { name: "login-connections", value: "N", help: "wrk connections for /login (default 4)" },
    {
      name: "log-level",
      value: "LEVEL",
      help: "LOG_LEVEL of our server: debug, info, warn, error (default info)",
    },
    { name: "out", value: "PATH", help: "JSON results file (default tests/bench/results.json)" },
  ],
};

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * Reads the benchmark's flags: the help text to print, or the settings of a run. Throws a
 * {@linkcode UsageError} (an error line and the usage line) when one is wrong.
 *
 * @example
 * ```ts
 * const options = parseBenchArgs(["--quick"], "tests/bench/results.json");
 * ```
 */
export function parseBenchArgs(
  args: string[],
  defaultOut: string,
): { help: string } | BenchOptions {
  const invocation = parseCommandLine(BENCH_COMMAND, args);
  if (invocation.help !== undefined) return { help: invocation.help };
  const values = invocation.values as Record<string, string | undefined> & { quick?: boolean };
  const quick = values.quick ?? false;
  const logLevel = (values["log-level"] ?? "info") as BenchOptions["logLevel"];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw usageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, not "${logLevel}"`);
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
  };
}

function usageError(message: string): UsageError {
  return new UsageError(message, usageLine(BENCH_COMMAND));
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
    throw usageError(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return parsed;
}
