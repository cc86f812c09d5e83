/**
 * @module
 * JSON-lines logging, buffered so that the access log costs little under load. Callers must never
 * pass it passwords, tokens or Authorization headers.
 */
/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes one JSON object per line; never give it passwords, tokens or Authorization headers. */
export interface Logger {
  /** Whether lines of `level` are written, to skip building them otherwise. */
  enabled(level: LogLevel): boolean;
  /** Writes `{time, level, msg, ...fields}` when `level` is enabled. */
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /**
   * Writes `{time, level: "info", msg: "audit", ...fields}` whatever the level: an audit trail is
   * not noise that `LOG_LEVEL` may silence.
   */
  audit(fields: Record<string, unknown>): void;
  /** Writes out any buffered lines now. */
  flush(): void;
}

/** Where log lines go. */
export interface LineSink {
  write(line: string): void;
  flush(): void;
}

/**
 * Creates a JSON-lines logger that writes lines at `level` and above, by default to stdout
 * through a buffer that is written once per event-loop turn.
 *
 * @example
 * ```ts
 * const logger = createLogger("info");
 * logger.log("info", "Listening", { url: "https://localhost:8443" });
 * ```
 */
export function createLogger(
  level: LogLevel,
  sink: LineSink | ((line: string) => void) = bufferedStdout(),
): Logger {
  const threshold = RANK[level];
  const out = typeof sink === "function" ? { write: sink, flush() {} } : sink;
  const clock = isoClock();
  function write(candidate: LogLevel, msg: string, fields?: Record<string, unknown>) {
    // Spliced by hand rather than spreading `fields` into a new object: this runs per request.
    const head = `{"time":"${clock()}","level":"${candidate}","msg":${JSON.stringify(msg)}`;
    const rest = fields === undefined ? "{}" : JSON.stringify(fields);
    out.write(rest === "{}" ? `${head}}` : `${head},${rest.slice(1)}`);
  }
  return {
    enabled: (candidate) => RANK[candidate] >= threshold,
    log(candidate, msg, fields) {
      if (RANK[candidate] < threshold) return;
      write(candidate, msg, fields);
      if (RANK[candidate] >= RANK.warn) out.flush();
    },
    audit: (fields) => write("info", "audit", fields),
    flush: () => out.flush(),
  };
}

/** The current time as an ISO 8601 string, formatted once per millisecond. */
function isoClock(): () => string {
  let last = 0;
  let text = "";
  return () => {
    const now = Date.now();
    if (now !== last) {
      last = now;
      text = new Date(now).toISOString();
    }
    return text;
  };
}

/**
 * Collects lines and writes them to stdout in one call per event-loop turn: a synchronous write
 * per request line would cost more than the request itself under load.
 */
function bufferedStdout(): LineSink {
  const encoder = new TextEncoder();
  let pending: string[] = [];
  let scheduled = false;
  function flush() {
    scheduled = false;
    if (pending.length === 0) return;
    const bytes = encoder.encode(pending.join("\n") + "\n");
    pending = [];
    let written = 0;
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  }
  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setTimeout(flush, 0);
      }
    },
    flush,
  };
}
