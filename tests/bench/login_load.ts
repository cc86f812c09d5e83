/**
 * @module
 * Part (b) of the benchmark: POST /login with valid credentials under wrk, logins per second
 * compared with the password-hash ceiling (cores ÷ time of one hash, and the hashes per second
 * measured in parallel), and a login right after the load to show that successful logins are never
 * throttled.
 */
import type { HashCeiling } from "./hash_ceiling.ts";
import { isClean, runWrk, type WrkResult } from "./wrk.ts";

/** Everything part (b) measured. */
export interface LoginLoad {
  connections: number;
  durationSeconds: number;
  wrk: WrkResult;
  /** No non-2xx answers (so no 400 and no 429 from throttling) and no socket errors. */
  clean: boolean;
  loginsPerSecond: number;
  /** Logins/s ÷ (cores ÷ time of one hash). */
  ratio: number;
  /** Logins/s ÷ the hashes/s measured with one hash per core at once. */
  ratioToParallel: number;
  /** Whether a login right after the load still succeeded: successes never throttle. */
  acceptedAfterLoad: boolean;
}

/** Settings of part (b). */
export interface LoginLoadOptions {
  connections: number;
  durationSeconds: number;
  /** The wrk script that POSTs the credentials. */
  script: string;
  ceiling: HashCeiling;
  /** Tries one more login after the load; true when it answered 200. */
  loginAfter: () => Promise<boolean>;
  signal?: AbortSignal;
}

/**
 * Loads POST /login with valid credentials and compares logins/s with the password-hash ceiling.
 *
 * @example
 * ```ts
 * const result = await measureLoginLoad(url, { connections: 4, durationSeconds: 10, script, ceiling, loginAfter });
 * ```
 */
export async function measureLoginLoad(url: string, options: LoginLoadOptions): Promise<LoginLoad> {
  const { connections, durationSeconds, script, ceiling, signal } = options;
  const wrk = await runLogins(url, { connections, durationSeconds, script, signal });
  return {
    connections,
    durationSeconds,
    wrk,
    clean: isClean(wrk),
    loginsPerSecond: wrk.requestsPerSecond,
    ratio: wrk.requestsPerSecond / ceiling.ceilingPerSecond,
    ratioToParallel: wrk.requestsPerSecond / ceiling.parallelPerSecond,
    acceptedAfterLoad: await options.loginAfter(),
  };
}

/** Runs wrk's login script against `url`; a login takes a whole hash, hence the long timeout. */
export function runLogins(
  url: string,
  options: { connections: number; durationSeconds: number; script: string; signal?: AbortSignal },
): Promise<WrkResult> {
  return runWrk(`${url}/login`, { ...options, timeoutSeconds: 30 });
}
