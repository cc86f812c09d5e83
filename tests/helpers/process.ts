import { fileURLToPath } from "node:url";

/**
 * Child processes for end-to-end tests: `deno run … src/main.ts <args>` run to completion, and
 * `src/main.ts serve …` kept running while its JSON log lines are collected.
 */

/** Absolute path of the CLI entry point, src/main.ts. */
export const MAIN: string = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/** Absolute path of the client script, src/client.ts. */
export const CLIENT: string = fileURLToPath(new URL("../../src/client.ts", import.meta.url));

const TASKS: Record<string, string> = JSON.parse(
  Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)),
).tasks;

/**
 * The flags of a deno.json `deno run` task (permissions, V8 flags): what stands between `run`
 * and the script, so that children run with exactly the permissions users get.
 */
export function taskFlags(task: string): string[] {
  const words = TASKS[task]?.split(/\s+/) ?? [];
  const script = words.findIndex((word, i) => i > 1 && !word.startsWith("-"));
  if (words[0] !== "deno" || words[1] !== "run" || script < 0) {
    throw new Error(`deno.json has no "deno run" task "${task}"`);
  }
  return words.slice(2, script);
}

/** The flags of the deno.json serve task. */
export const PERMISSIONS: readonly string[] = taskFlags("serve");

/** How long a `serve` child may take to log a line waited for, by default. */
export const LISTEN_TIMEOUT_MS = 30_000;

/** How long a child stopped with a gentler signal on dispose has before it is killed. */
const DISPOSE_GRACE_MS = 5000;

/** Variables a child keeps from the test's environment: what Deno needs to find its cache. */
const INHERITED = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "SYSTEMROOT"];

/**
 * The environment of every child: only what Deno needs to find its cache and tools, so that
 * settings of the machine running the tests (PORT, JWT_SECRET, TLS_CERT, …) cannot leak in.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
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
 * Runs `deno run <flags> <script> <args>` to completion, writing `stdin` (if any) and closing it.
 *
 * @example
 * ```ts
 * const listed = await runCli(["user", "list"], { cwd: dir });
 * assert.equal(listed.code, 0, listed.stderr);
 * ```
 */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRunArgs(args, options),
    cwd: options.cwd,
    env: childEnv(options.env),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  try {
    if (options.stdin !== undefined) await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  } catch {
    // The child may exit before reading its input.
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Options of a {@linkcode ServeProcess}. */
export interface ServeOptions extends DenoRunOptions {
  /** Names the child in error messages; "serve" when absent. */
  name?: string;
  /**
   * The signal dispose sends to a child still running; SIGKILL when absent. Any other signal is
   * followed by SIGKILL if the child has not exited 5 s later.
   */
  disposeSignal?: Deno.Signal;
}

/**
 * A `src/main.ts serve …` child whose stdout and stderr are read line by line; disposing it
 * makes sure the child is gone.
 *
 * @example
 * ```ts
 * await using server = new ServeProcess(["--port", "0"], { cwd: dir, env: { LOG_LEVEL: "info" } });
 * const url = await server.listening();
 * const status = await server.stop("SIGTERM");
 * ```
 */
export class ServeProcess implements AsyncDisposable {
  /** Names the child in error messages. */
  readonly name: string;
  /** Stdout lines so far. */
  readonly lines: string[] = [];
  /** Stderr so far, each line ended by a newline. */
  stderr = "";
  /** The URL of the "Listening" line, once {@linkcode ServeProcess.listening} has seen it. */
  url = "";
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>;
  readonly #disposeSignal: Deno.Signal;
  #status?: Deno.CommandStatus;

  /** Spawns `deno run <flags> <script> serve <args>`. */
  constructor(args: string[], options: ServeOptions = {}) {
    this.name = options.name ?? "serve";
    this.#disposeSignal = options.disposeSignal ?? "SIGKILL";
    this.#child = new Deno.Command(Deno.execPath(), {
      args: denoRunArgs(["serve", ...args], options),
      cwd: options.cwd,
      env: childEnv(options.env),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child.status.then((status) => this.#status = status);
    this.#pumps = Promise.all([
      readLines(this.#child.stdout, (line) => this.lines.push(line)),
      readLines(this.#child.stderr, (line) => this.stderr += `${line}\n`),
    ]).then(() => {});
  }

  /** Stdout lines so far, each parsed as JSON: throws unless every line is a JSON log line. */
  get logs(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line));
  }

  /** Waits for a JSON log line with `msg`, failing on timeout or when the child exits first. */
  async waitForLog(msg: string, timeoutMs = LISTEN_TIMEOUT_MS): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.lines.map(parseLogLine).find((line) => line?.msg === msg);
      if (found) return found;
      if (this.#status) {
        throw new Error(
          `${this.name} exited with ${this.#status.code} before "${msg}": ${this.stderr}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `No "${msg}" log line from ${this.name} within ${timeoutMs} ms: ${this.lines.join("\n")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Waits for the "Listening" log line and returns (and keeps in `url`) the URL it names. */
  async listening(timeoutMs = LISTEN_TIMEOUT_MS): Promise<string> {
    const line = await this.waitForLog("Listening", timeoutMs);
    return this.url = line.url as string;
  }

  /** Sends a signal and waits for the exit and the end of the output. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    if (!this.#status) this.#child.kill(signal);
    const status = await this.#child.status;
    await this.#pumps;
    return status;
  }

  /** Stops the child if it still runs (see {@linkcode ServeOptions.disposeSignal}). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#status) {
      this.#kill(this.#disposeSignal);
      const timer = this.#disposeSignal === "SIGKILL"
        ? undefined
        : setTimeout(() => this.#kill("SIGKILL"), DISPOSE_GRACE_MS);
      await this.#child.status;
      clearTimeout(timer);
    }
    await this.#pumps;
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
  }
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

/** Calls `onLine` for each line of a text stream (without its newline), the last one included. */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    for (const line of parts) onLine(line);
  }
  if (pending) onLine(pending);
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
