/** A server running as a child process whose stdout is read and thrown away. */
export interface ServerProcess extends AsyncDisposable {
  label: string;
  pid: number;
  /** `performance.now()` just before the spawn. */
  spawnedAt: number;
  /**
   * The URL from the server's first `{"msg":"Listening","url":…}` stdout line, and when it was
   * read; rejects when the process exits before printing one.
   */
  listening: Promise<{ url: string; at: number }>;
  /** Settles with the exit status. */
  exited: Promise<Deno.CommandStatus>;
  /** The last lines the process wrote to stderr, for error messages. */
  stderrTail(): string;
  /** Sends SIGTERM, then SIGKILL if it has not exited within `graceMs`; waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

/** How to start a server process. */
export interface SpawnOptions {
  label: string;
  cwd: string;
  env: Record<string, string>;
  /** Killing this signal kills the process. */
  signal?: AbortSignal;
}

const STDERR_TAIL_BYTES = 4096;

/**
 * Spawns `command` with a clean environment (only `env`), reads its stdout until the Listening
 * line and then keeps draining it, so that a verbose access log never blocks the server.
 *
 * @example
 * ```ts
 * await using server = spawnServer(Deno.execPath(), ["run", "bare_server.ts"], { label, cwd, env });
 * const { url } = await server.listening;
 * ```
 */
export function spawnServer(
  command: string,
  args: string[],
  options: SpawnOptions,
): ServerProcess {
  const spawnedAt = performance.now();
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).spawn();
  const exited = child.status;
  let stderr = "";
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      stderr = (stderr + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL_BYTES);
    }
  })().catch(() => {});
  const tail = () => stderr.trim().split("\n").slice(-5).join(" | ");
  let found: (value: { url: string; at: number }) => void;
  const listening = new Promise<{ url: string; at: number }>((resolve) => found = resolve);
  const stdoutDone = drainStdout(child.stdout, (url) => found({ url, at: performance.now() }));
  const failed = exited.then((status) => {
    throw new Error(
      `${options.label} exited (code ${status.code}) before listening: ${tail() || "no stderr"}`,
    );
  });
  const announced = Promise.race([listening, failed]);
  announced.catch(() => {}); // Unobserved when the caller knows the URL already.

  let stopping: Promise<void> | undefined;
  function stop(graceMs = 3000): Promise<void> {
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((resolve) => timer = setTimeout(resolve, graceMs, true)),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }
      await exited;
      await Promise.all([stdoutDone, stderrDone]);
    })();
    return stopping;
  }

  return {
    label: options.label,
    pid: child.pid,
    spawnedAt,
    listening: announced,
    exited,
    stderrTail: tail,
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
}

/** Reads lines until one announces the URL, then discards the rest without decoding it. */
async function drainStdout(
  stdout: ReadableStream<Uint8Array>,
  onUrl: (url: string) => void,
): Promise<void> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      const url = lines.map(listeningUrl).find((found) => found !== undefined);
      if (url) {
        onUrl(url);
        break;
      }
    }
    while (!(await reader.read()).done) {
      // The access log: read only to keep the pipe from filling up.
    }
  } catch {
    // The process was killed mid-read.
  } finally {
    reader.releaseLock();
  }
}

function listeningUrl(line: string): string | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const parsed = JSON.parse(line);
    return parsed.msg === "Listening" && typeof parsed.url === "string" ? parsed.url : undefined;
  } catch {
    return undefined;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Rewrites a URL's host to 127.0.0.1: `localhost` may resolve to ::1 first, which is not bound. */
export function loopbackUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hostname = "127.0.0.1";
  return parsed.origin;
}
