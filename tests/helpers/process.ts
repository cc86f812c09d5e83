/**
 * Child processes of tests and benchmarks: a program (curl, openssl, Python, `deno run …
 * src/main.ts <args>`) run to completion with its output collected, and a server
 * (`src/main.ts serve …`, a benchmark's bare server) kept running while its JSON log lines are
 * read. Every child gets a clean environment ({@linkcode childEnv}).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.ts";

/** Absolute path of the CLI entry point, src/main.ts. */
export const MAIN: string = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/** Absolute path of the client script, src/client.ts. */
export const CLIENT: string = fileURLToPath(new URL("../../src/client.ts", import.meta.url));

const TASKS: Record<string, { command: string }> = JSON.parse(
  Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)),
).tasks;

/**
 * The flags of a deno.json `deno run` task (permissions, V8 flags): what stands between `run`
 * and the script, so that children run with exactly the permissions users get. A named set
 * (`-P=service`) is looked up in the deno.json Deno finds above the script, this project's.
 */
export function taskFlags(task: string): string[] {
  const words = TASKS[task]?.command.split(/\s+/) ?? [];
  const script = words.findIndex((word, i) => i > 1 && !word.startsWith("-"));
  if (words[0] !== "deno" || words[1] !== "run" || script < 0) {
    throw new Error(`deno.json has no "deno run" task "${task}"`);
  }
  return words.slice(2, script);
}

/** The flags of the deno.json serve task. */
export const PERMISSIONS: readonly string[] = taskFlags("serve");

/** How long a server child may take to log a line waited for, by default. */
export const LISTEN_TIMEOUT_MS = 30_000;

/** How long a child stopped with a gentler signal than SIGKILL has before it is killed. */
const DISPOSE_GRACE_MS = 5000;

/** Variables a child keeps from the test's environment: what Deno needs to find its cache. */
const INHERITED = [
  "PATH",
  "HOME",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "TMPDIR",
  "SYSTEMROOT",
  "NPM_CONFIG_REGISTRY",
];

/**
 * The environment of every child: only what Deno needs to find its cache and tools, so that
 * settings of the machine running the tests (PORT, JWT_SECRET, TLS_CERT, …) cannot leak in.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  // No drain on SIGTERM unless a test asks for one: tests stop servers with SIGTERM all the time.
  const env: Record<string, string> = { NO_COLOR: "1", DRAIN_DELAY: "0" };
  for (const name of INHERITED) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Options of a child started with `deno run`. */
export interface DenoRunOptions {
  /** Working directory; the test's own when absent. */
  cwd?: string;
  /** Variables added to {@linkcode childEnv}. */
  env?: Record<string, string>;
  /** The script to run; {@linkcode MAIN} when absent. */
  script?: string;
  /**
   * Flags for `deno run` before the script (permissions, `--config`, …); when absent, those of
   * the deno.json task the child is: `client` for {@linkcode CLIENT}, `start` for `serve --dev`,
   * else the task named by the first argument (`serve`, `user`, `keys`, `certs`).
   */
  flags?: readonly string[];
}

/** Options of {@linkcode runProgram}. */
export interface RunOptions {
  /** Working directory; the test's own when absent. */
  cwd?: string;
  /** Variables added to {@linkcode childEnv}. */
  env?: Record<string, string>;
  /** Written to the child's stdin before it is closed; stdin is closed at once when absent. */
  stdin?: string | Uint8Array;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions extends DenoRunOptions {
  /** Text written to the child's stdin before it is closed; stdin is closed at once when absent. */
  stdin?: string;
}

/** The exit code and the whole output of a finished child. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command args` to completion, writing `stdin` (if any) and closing it.
 *
 * @example
 * ```ts
 * const { code, stdout } = await runProgram("curl", ["--cacert", cert, `${url}/hello`]);
 * ```
 */
export async function runProgram(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<CliResult> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: childEnv(options.env),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  try {
    const input = options.stdin;
    if (input !== undefined) {
      await writer.write(typeof input === "string" ? new TextEncoder().encode(input) : input);
    }
    await writer.close();
  } catch {
    // The child may exit before reading its input (curl stops once it has the answer).
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `command args` like {@linkcode runProgram}, asserts that it exits 0, and returns its stdout. */
export async function outputOf(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  const { code, stdout, stderr } = await runProgram(command, args, options);
  assert.equal(code, 0, `${command} ${args.join(" ")} failed: ${stderr}`);
  return stdout;
}

/** Asserts a failure reported as one `Error: …` line on stderr and returns that line. */
export function assertOneLineError(result: CliResult, pattern: RegExp): string {
  assert.equal(result.code, 1, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.ok(lines[0].startsWith("Error: "), lines[0]);
  assert.match(lines[0], pattern);
  return lines[0];
}

/**
 * Asserts that a finished child refused its arguments as a command line should: exit status 2,
 * an `Error: …` line matching `pattern`, then the command's `Usage: deno task …` line, nothing
 * else on stderr and nothing on stdout. Returns the usage line.
 */
export function assertUsageError(result: CliResult, pattern: RegExp): string {
  assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 2, `an error and a usage line on stderr, got: ${result.stderr}`);
  assert.ok(lines[0].startsWith("Error: "), lines[0]);
  assert.match(lines[0], pattern);
  assert.match(lines[1], /^Usage: deno task \S/);
  assert.equal(result.stdout, "");
  return lines[1];
}

/**
 * Runs `deno run <flags> <script> <args>` to completion, writing `stdin` (if any) and closing it.
 *
 * @example
 * ```ts
 * const listed = await runCli(["user", "list"], { cwd: dir });
 * assert.equal(listed.code, 0, listed.stderr);
 * ```
 */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return runProgram(Deno.execPath(), denoRunArgs(args, options), options);
}

/** Options of a {@linkcode ServerProcess}. */
export interface ServerOptions extends DenoRunOptions {
  /** Names the child in error messages; "server" when absent. */
  name?: string;
  /**
   * The signal dispose sends to a child still running; SIGKILL when absent. Any other signal is
   * followed by SIGKILL if the child has not exited 5 s later.
   */
  disposeSignal?: Deno.Signal;
  /**
   * Keeps stdout lines only up to the "Listening" line and drops the rest unread, so that the
   * access log of a server under load neither fills memory nor takes CPU from it.
   */
  dropLogsAfterListening?: boolean;
  /** Kills the child when aborted. */
  signal?: AbortSignal;
  /**
   * Runs `launcher[0] launcher[1…] args` instead of `deno run <flags> <script> args`: for
   * example `["setsid", Deno.execPath(), "task"]` runs a deno.json task as its own process group.
   */
  launcher?: readonly string[];
  /**
   * Another program to run instead of `deno run` (such as Node for a peer server), with its
   * arguments; `args`, `script` and `flags` are then unused.
   */
  program?: { command: string; args: string[] };
}

/**
 * A server child, `deno run <flags> <script> <args>` (or another program), whose stdout and stderr are read line by
 * line; disposing it makes sure the child is gone.
 *
 * @example
 * ```ts
 * await using server = new ServerProcess(["serve", "--port", "0"], { cwd: dir });
 * const url = await server.listening();
 * const status = await server.stop("SIGTERM");
 * ```
 */
export class ServerProcess implements AsyncDisposable {
  /** Names the child in error messages. */
  readonly name: string;
  /** Stdout lines so far. */
  readonly lines: string[] = [];
  /** Stderr so far, each line ended by a newline. */
  stderr = "";
  /** The URL of the "Listening" line, once {@linkcode ServerProcess.listening} has seen it. */
  url = "";
  /** `performance.now()` just before the spawn. */
  readonly spawnedAt: number;
  /** Settles with the exit status. */
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>;
  readonly #disposeSignal: Deno.Signal;
  #status?: Deno.CommandStatus;

  /** Spawns `deno run <flags> <script> <args>`. */
  constructor(args: string[], options: ServerOptions = {}) {
    this.name = options.name ?? "server";
    this.#disposeSignal = options.disposeSignal ?? "SIGKILL";
    this.spawnedAt = performance.now();
    const [program, ...launcherArgs] = options.program
      ? [options.program.command]
      : options.launcher ?? [Deno.execPath()];
    this.#child = new Deno.Command(program, {
      args: options.program?.args ??
        (options.launcher ? [...launcherArgs, ...args] : denoRunArgs(args, options)),
      cwd: options.cwd,
      env: childEnv(options.env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: options.signal,
    }).spawn();
    this.exited = this.#child.status.then((status) => this.#status = status);
    const keepsLine = (line: string) => {
      this.lines.push(line);
      return !options.dropLogsAfterListening || parseLogLine(line)?.msg !== "Listening";
    };
    this.#pumps = Promise.all([
      readLines(this.#child.stdout, keepsLine),
      readLines(this.#child.stderr, (line) => {
        this.stderr += `${line}\n`;
      }),
    ]).then(() => {});
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Stdout lines so far, each parsed as JSON: throws unless every line is a JSON log line. */
  get logs(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line));
  }

  /** Waits for a JSON log line with `msg`, failing on timeout or when the child exits first. */
  waitForLog(msg: string, timeoutMs = LISTEN_TIMEOUT_MS): Promise<Record<string, unknown>> {
    return waitFor(() => `a "${msg}" log line from ${this.name}: ${this.lines.join("\n")}`, () => {
      const found = this.lines.map(parseLogLine).find((line) => line?.msg === msg);
      if (found) return found;
      if (this.#status) {
        throw new Error(
          `${this.name} exited with ${this.#status.code} before "${msg}": ${this.stderr}`,
        );
      }
    }, { timeoutMs, intervalMs: 25 });
  }

  /** Waits until stderr matches `pattern` and returns the match, failing on timeout or exit. */
  waitForStderr(pattern: RegExp, timeoutMs = LISTEN_TIMEOUT_MS): Promise<RegExpExecArray> {
    return waitFor(() => `${pattern} on stderr of ${this.name}: ${this.stderr}`, () => {
      const found = pattern.exec(this.stderr);
      if (found) return found;
      if (this.#status) {
        throw new Error(
          `${this.name} exited with ${this.#status.code} before ${pattern}: ${this.stderr}`,
        );
      }
    }, { timeoutMs, intervalMs: 25 });
  }

  /**
   * Waits for the child to exit by itself and for the end of its output; fails when it still
   * runs after `timeoutMs` (dispose then stops it).
   */
  async exitedWithin(timeoutMs = LISTEN_TIMEOUT_MS): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new Error(`${this.name} still runs after ${timeoutMs} ms: ${this.lines.join("\n")}`),
        );
      }, timeoutMs);
    });
    try {
      const status = await Promise.race([this.#child.status, late]);
      await this.#pumps;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the "Listening" log line and returns (and keeps in `url`) the URL it names. */
  async listening(timeoutMs = LISTEN_TIMEOUT_MS): Promise<string> {
    const line = await this.waitForLog("Listening", timeoutMs);
    return this.url = line.url as string;
  }

  /** Sends a signal without waiting for anything. */
  signal(signal: Deno.Signal): void {
    this.#kill(signal);
  }

  /**
   * Sends a signal to every process of the child's process group without waiting, as systemd's
   * `KillMode=control-group` does; the child must lead its group (started by `setsid`).
   */
  signalGroup(signal: Deno.Signal): void {
    Deno.kill(-this.#child.pid, signal);
  }

  /**
   * Sends `signal` unless the child has exited, then SIGKILL if it has not exited 5 s later;
   * waits for the exit and the end of the output.
   */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    if (!this.#status) {
      this.#kill(signal);
      const timer = signal === "SIGKILL"
        ? undefined
        : setTimeout(() => this.#kill("SIGKILL"), DISPOSE_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    await this.#pumps;
    return await this.exited;
  }

  /** Stops the child if it still runs (see {@linkcode ServerOptions.disposeSignal}). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop(this.#disposeSignal);
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a child to listen on. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Parses one log line, or returns undefined when it is not a JSON object. */
export function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onLine` for each line of a text stream (without its newline), the last one included.
 * Once `onLine` returns false, the rest of the stream is read and dropped without decoding.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => boolean | void,
): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let decoding = true;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!decoding) continue;
      pending += decoder.decode(value, { stream: true });
      const parts = pending.split("\n");
      pending = parts.pop()!;
      decoding = parts.every((line) => onLine(line) !== false);
    }
    pending += decoder.decode();
    if (decoding && pending) onLine(pending);
  } catch {
    // The child was killed mid-read.
  } finally {
    reader.releaseLock();
  }
}

function denoRunArgs(args: string[], options: DenoRunOptions): string[] {
  const script = options.script ?? MAIN;
  const task = script === CLIENT
    ? "client"
    : script !== MAIN
    ? ""
    : args[0] === "serve" && args.includes("--dev")
    ? "start"
    : args[0] in TASKS
    ? args[0]
    : "";
  const flags = options.flags ?? (task ? taskFlags(task) : PERMISSIONS);
  return ["run", ...flags, script, ...args];
}
