/**
 * @module
 * wrk, the load generator of the benchmark: runs it with `--latency` (it does not verify
 * certificates, as a load generator need not), parses its report into requests per second, latency
 * percentiles, non-2xx answers and socket errors, and writes the Lua scripts that POST JSON bodies.
 */

/** Latency figures of one wrk run, in milliseconds. */
export interface WrkLatency {
  avg: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  max: number;
}

/** What one `wrk --latency` run reports. */
export interface WrkResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: WrkLatency;
  /** Responses with a status outside 2xx and 3xx. */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

/** Settings of one wrk run. */
export interface WrkOptions {
  threads?: number;
  connections: number;
  durationSeconds: number;
  /** Extra request headers, sent with `-H`. */
  headers?: Record<string, string>;
  /** A Lua script (`-s`), for instance one made by {@linkcode writePostScript}. */
  script?: string;
  /** Seconds after which wrk counts a request as timed out. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

/** Seconds a wrk process may run past its `-d` before it is killed. */
const GRACE_SECONDS = 20;

/** Returns wrk's version line, or undefined when wrk is not installed. */
export async function wrkVersion(): Promise<string | undefined> {
  try {
    // `wrk -v` prints its version and usage, and exits 1.
    const { stdout, stderr } = await new Deno.Command("wrk", {
      args: ["-v"],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(5000),
    }).output();
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    return /^wrk (\S+)/m.exec(text)?.[0] ?? "wrk";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Runs wrk with `--latency` against `url` and parses its report.
 *
 * wrk does not verify the server's certificate, by design: it is a load generator, not a
 * client, and its TLS only has to cost what a real client's does.
 *
 * @example
 * ```ts
 * const result = await runWrk("https://127.0.0.1:8443/hello", { connections: 32, durationSeconds: 10 });
 * result.requestsPerSecond;
 * ```
 */
export async function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const { threads = 1, connections, durationSeconds, timeoutSeconds = 5 } = options;
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${durationSeconds}s`,
    "--timeout",
    `${timeoutSeconds}s`,
    "--latency",
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    args.push("-H", `${name}: ${value}`);
  }
  if (options.script) args.push("-s", options.script);
  args.push(url);
  const bound = AbortSignal.timeout((durationSeconds + GRACE_SECONDS) * 1000);
  const signal = options.signal ? AbortSignal.any([options.signal, bound]) : bound;
  const output = await new Deno.Command("wrk", {
    args,
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const detail = (new TextDecoder().decode(output.stderr) || text).trim().split("\n").at(-1);
    throw new Error(`wrk failed on "${url}" (exit ${output.code}): ${detail}`);
  }
  return parseWrkOutput(text);
}

/** Parses the report `wrk --latency` prints. */
export function parseWrkOutput(text: string): WrkResult {
  const summary = /^\s*(\d+) requests in ([\d.]+\w+),/m.exec(text);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const thread = /^\s*Latency\s+(\S+)\s+\S+\s+(\S+)/m.exec(text);
  if (!summary || !rate || !thread) {
    throw new Error(`Cannot parse wrk output: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const percentile = (p: number) => {
    const match = new RegExp(`^\\s*${p}%\\s+(\\S+)`, "m").exec(text);
    if (!match) throw new Error(`wrk output lacks the ${p}% latency; was --latency given?`);
    return milliseconds(match[1]);
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: Number(summary[1]),
    durationSeconds: milliseconds(summary[2]) / 1000,
    requestsPerSecond: Number(rate[1]),
    latencyMs: {
      avg: milliseconds(thread[1]),
      p50: percentile(50),
      p75: percentile(75),
      p90: percentile(90),
      p99: percentile(99),
      max: milliseconds(thread[2]),
    },
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: {
      connect: Number(errors?.[1] ?? 0),
      read: Number(errors?.[2] ?? 0),
      write: Number(errors?.[3] ?? 0),
      timeout: Number(errors?.[4] ?? 0),
    },
  };
}

/** Whether a run saw only 2xx/3xx answers and no socket errors. */
export function isClean(result: WrkResult): boolean {
  const { connect, read, write, timeout } = result.socketErrors;
  return result.non2xx === 0 && connect + read + write + timeout === 0;
}

/** Names what went wrong in a run, such as "12 non-2xx, 3 connect errors"; "" when clean. */
export function describeErrors(result: WrkResult): string {
  const parts = result.non2xx ? [`${result.non2xx} non-2xx`] : [];
  for (const [kind, count] of Object.entries(result.socketErrors)) {
    if (count) parts.push(`${count} ${kind} errors`);
  }
  return parts.join(", ");
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Converts a wrk time such as "812.00us", "2.31ms" or "1.02s" to milliseconds. */
function milliseconds(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`Cannot parse wrk time "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2]];
}

/** Writes a wrk Lua script that POSTs `body` as JSON, and returns its path. */
export async function writePostScript(path: string, body: unknown): Promise<string> {
  const json = JSON.stringify(body);
  if (json.includes("]==]")) throw new Error("Body cannot be quoted as a Lua long string");
  await Deno.writeTextFile(
    path,
    [
      'wrk.method = "POST"',
      `wrk.body = [==[${json}]==]`,
      'wrk.headers["Content-Type"] = "application/json"',
      "",
    ].join("\n"),
  );
  return path;
}
