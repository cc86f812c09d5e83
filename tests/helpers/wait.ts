/**
 * Waiting in tests: {@linkcode waitFor} polls, up to a deadline, for a state that changes in the
 * background (a key ring's re-read, a log line, a database coming back); {@linkcode sleep} and
 * {@linkcode sleepUntil} are only for tests whose point is that time passes (a token's expiry, a
 * Retry-After, a pace between attempts).
 *
 * @module
 */

/** Settings of {@linkcode waitFor}. */
export interface WaitOptions {
  /** How long to keep trying, ms; 10 000 when absent. */
  timeoutMs?: number;
  /** The pause between two tries, ms; 50 when absent. */
  intervalMs?: number;
  /** Ends the wait, rejecting with the signal's reason, when aborted. */
  signal?: AbortSignal;
}

/** What a {@linkcode waitFor} check returns: the awaited value, or false or undefined for "not yet". */
export type Check<T> = () => T | false | undefined | Promise<T | false | undefined>;

/**
 * Calls `check` until it returns something other than `false` or `undefined`, and returns that.
 * Throws, naming `what` (a text, or a function giving one with what was last seen), when
 * `timeoutMs` passes first; an error thrown by `check` ends the wait at once.
 *
 * @example
 * ```ts
 * const kids = await waitFor("the JWKS to list the new key", async () => {
 *   const listed = await jwksKids(server);
 *   return listed.includes(next.kid) && listed;
 * });
 * ```
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: Check<T>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 50, signal } = options;
  const deadline = performance.now() + timeoutMs;
  while (true) {
    signal?.throwIfAborted();
    const value = await check();
    if (value !== false && value !== undefined) return value;
    if (performance.now() >= deadline) {
      const described = typeof what === "string" ? what : what();
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${described}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - performance.now())), signal);
  }
}

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason once it is aborted. Not
 * for waiting on a state: use {@linkcode waitFor}.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/** Resolves once the wall clock has reached `unixSeconds` (whole seconds, as a JWT's `exp`). */
export async function sleepUntil(unixSeconds: number): Promise<void> {
  while (Date.now() < unixSeconds * 1000) await sleep(unixSeconds * 1000 - Date.now());
}
