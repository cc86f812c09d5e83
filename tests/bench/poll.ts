/**
 * @module
 * Waiting for a server under benchmark to come up: polls a URL until it answers the status that
 * means "up" and returns the time of that first answer, failing on a timeout, on another status or
 * when the server process exits. Part (e) times start-up with it.
 */
import { waitFor } from "../helpers/wait.ts";

/** Settings of {@linkcode waitForStatus}. */
export interface PollOptions {
  client: Deno.HttpClient;
  /** The status that means "up", such as 401 for GET /hello without a token. */
  status: number;
  intervalMs?: number;
  timeoutMs?: number;
  /** Stops waiting early when the server process exits. */
  exited?: Promise<unknown>;
  signal?: AbortSignal;
}

/**
 * Polls `url` every `intervalMs` until it answers `status`; returns `performance.now()` of the
 * first such answer. Throws when `timeoutMs` passes, the process exits, or another status comes.
 *
 * @example
 * ```ts
 * const upAt = await waitForStatus(`${url}/hello`, { client, status: 401 });
 * ```
 */
export function waitForStatus(url: string, options: PollOptions): Promise<number> {
  const { client, status, intervalMs = 10, timeoutMs = 15_000 } = options;
  let exited = false;
  options.exited?.then(() => exited = true, () => exited = true);
  let lastError = "no answer";
  return waitFor(() => `"${url}" to answer ${status}: ${lastError}`, async () => {
    if (exited) throw new Error(`Server exited before "${url}" answered`);
    let answered: number;
    try {
      const res = await fetch(url, { client, signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      answered = res.status;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      return undefined;
    }
    if (answered !== status) throw new Error(`"${url}" answered ${answered}, expected ${status}`);
    return performance.now();
  }, { timeoutMs, intervalMs, signal: options.signal });
}
