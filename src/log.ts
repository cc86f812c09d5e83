/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes one JSON object per line; never give it passwords, tokens or Authorization headers. */
export interface Logger {
  /** Whether lines of `level` are written, to skip building them otherwise. */
  enabled(level: LogLevel): boolean;
  /** Writes `{time, level, msg, ...fields}` when `level` is enabled. */
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Creates a JSON-lines logger that writes lines at `level` and above.
 *
 * @example
 * ```ts
 * const logger = createLogger("info");
 * logger.log("info", "Listening", { url: "https://localhost:8443" });
 * ```
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  const threshold = RANK[level];
  return {
    enabled: (candidate) => RANK[candidate] >= threshold,
    log(candidate, msg, fields) {
      if (RANK[candidate] < threshold) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: candidate, msg, ...fields }));
    },
  };
}
