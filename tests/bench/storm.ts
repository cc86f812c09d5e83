/**
 * @module
 * Part (c) of the benchmark: GET /hello under wrk alone, then again while a second wrk keeps logins
 * running (each a full PBKDF2 hash), to show how much a login storm costs the requests that only
 * carry a token.
 */
import { runLogins } from "./login_load.ts";
import { isClean, runWrk, type WrkResult } from "./wrk.ts";

/** Everything part (c) measured. */
export interface StormResult {
  durationSeconds: number;
  helloConnections: number;
  loginConnections: number;
  /** GET /hello alone, just before the storm. */
  solo: WrkResult;
  /** GET /hello while logins run. */
  storm: WrkResult;
  /** The logins that ran alongside. */
  logins: WrkResult;
  /** Storm ÷ solo requests/s. */
  ratio: number;
  clean: boolean;
}

/** Settings of part (c). */
export interface StormOptions {
  helloConnections: number;
  loginConnections: number;
  durationSeconds: number;
  loginScript: string;
  token: () => Promise<string>;
  progress?: (message: string) => void;
  signal?: AbortSignal;
}

/**
 * Measures GET /hello alone, then again while a second wrk keeps logins (each a full PBKDF2
 * hash) running at `loginConnections` at once.
 *
 * @example
 * ```ts
 * const storm = await measureStorm(url, { helloConnections: 32, loginConnections: 4, durationSeconds: 10, loginScript, token });
 * ```
 */
export async function measureStorm(url: string, options: StormOptions): Promise<StormResult> {
  const { helloConnections, loginConnections, durationSeconds, loginScript, signal } = options;
  const hello = async () =>
    await runWrk(`${url}/hello`, {
      connections: helloConnections,
      durationSeconds,
      headers: { authorization: `Bearer ${await options.token()}` },
      signal,
    });
  options.progress?.(`(c) /hello solo, ${durationSeconds} s`);
  const solo = await hello();
  options.progress?.(`(c) /hello during a login storm, ${durationSeconds} s`);
  const [storm, logins] = await Promise.all([
    hello(),
    runLogins(url, {
      connections: loginConnections,
      durationSeconds,
      script: loginScript,
      signal,
    }),
  ]);
  return {
    durationSeconds,
    helloConnections,
    loginConnections,
    solo,
    storm,
    logins,
    ratio: storm.requestsPerSecond / solo.requestsPerSecond,
    clean: isClean(solo) && isClean(storm) && isClean(logins),
  };
}
