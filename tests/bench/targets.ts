/**
 * @module
 * The figures the benchmark aims for, part by part (shares of the ceilings, latencies, start-up
 * time, memory, the flood and slow-client limits), and the check of one figure against its target.
 * Targets are printed as PASS or MISS, never asserted.
 */

/** The figures the suite aims for; printed as PASS or MISS, never asserted. */
export const TARGETS = {
  /** (a) Our /hello throughput as a share of the minimal bare server's (`Response.json` alone). */
  helloMinimalRatio: 0.5,
  /**
   * (a) Our /hello throughput as a share of the bare server doing the same required work
   * (the headers, a request id and an access-log line).
   */
  helloSameWorkRatio: 0.9,
  /** (b) Logins/s as a share of cores ÷ time of one hash. */
  loginRatio: 0.85,
  /** (c) /hello throughput during a login storm as a share of solo. */
  stormRatio: 0.5,
  /** (c) /hello p99 during a login storm, ms. */
  stormP99Ms: 50,
  /** (e) Spawn to first HTTPS answer, ms. */
  startupMs: 500,
  /** (e) Resident memory under load (a), MiB. */
  rssMiB: 100,
  /** (f) Legitimate /hello req/s during a forged-token flood ÷ during a valid-token flood. */
  floodRatio: 0.9,
  /** (g) Seconds until the server has closed every slow connection. */
  slowClosedSeconds: 30,
  /** (h) Our /hello throughput with metrics on as a share of without ("a few percent" at most). */
  metricsRatio: 0.95,
  /** (a) Our /hello throughput as a multiple of Fastify's with fast-jwt's verify cache. */
  fastifyCacheRatio: 2,
  /** (i) Our ES256 client_credentials grants/s as a multiple of oidc-provider's with ES256 JWTs. */
  tokenEs256Ratio: 1,
} as const;

/** One figure checked against its target. */
export interface TargetCheck {
  part: "a" | "b" | "c" | "e" | "f" | "g" | "h" | "i";
  label: string;
  value: number;
  comparison: ">=" | "<" | "<=";
  threshold: number;
  unit: string;
  pass: boolean;
}

/**
 * Checks `value` against `threshold`.
 *
 * @example
 * ```ts
 * check("e", "first response", 312, "<", TARGETS.startupMs, "ms").pass; // true
 * ```
 */
export function check(
  part: TargetCheck["part"],
  label: string,
  value: number,
  comparison: TargetCheck["comparison"],
  threshold: number,
  unit = "",
): TargetCheck {
  const pass = comparison === ">="
    ? value >= threshold
    : comparison === "<="
    ? value <= threshold
    : value < threshold;
  return { part, label, value, comparison, threshold, unit, pass };
}

/** "PASS" or "MISS", for the table. */
export function verdict(target: TargetCheck): string {
  return target.pass ? "PASS" : "MISS";
}
