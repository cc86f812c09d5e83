/**
 * @module
 * Part (e) of the benchmark: start-up of our server as the `serve` task runs it, timed from spawn
 * to the first HTTPS answer (a 401 to GET /hello without a token) over several starts after one
 * that only warms the caches, with the resident memory right after that answer.
 */
import { freePort } from "../helpers/process.ts";
import { type Fixture, startOurServer } from "./fixture.ts";
import { readRssMiB } from "./memory.ts";
import { waitForStatus } from "./poll.ts";
import { median } from "./stats.ts";

/** One start of our server. */
export interface StartupSample {
  /** From spawn to the first HTTPS answer (401 to GET /hello without a token), ms. */
  firstResponseMs: number;
  /** VmRSS right after that answer, MiB. */
  rssMiB?: number;
}

/** Everything part (e) measured about start-up. */
export interface StartupResult {
  /** The unrecorded first start, which warms the module and code caches. */
  warmupMs: number;
  samples: StartupSample[];
  medianMs: number;
  maxMs: number;
  pollIntervalMs: number;
}

const POLL_INTERVAL_MS = 10;

/**
 * Starts our server `samples + 1` times on a free port and times each from spawn to the first
 * HTTPS answer, polling every 10 ms; the first start only warms the caches.
 *
 * @example
 * ```ts
 * const startup = await measureStartup(fixture, { samples: 3, logLevel: "info" });
 * ```
 */
export async function measureStartup(
  fixture: Fixture,
  options: { samples: number; logLevel: string; signal?: AbortSignal },
): Promise<StartupResult> {
  const starts: StartupSample[] = [];
  for (let i = 0; i <= options.samples; i++) starts.push(await startOnce(fixture, options));
  const [warmup, ...samples] = starts;
  const times = samples.map((sample) => sample.firstResponseMs);
  return {
    warmupMs: warmup.firstResponseMs,
    samples,
    medianMs: median(times),
    maxMs: Math.max(...times),
    pollIntervalMs: POLL_INTERVAL_MS,
  };
}

async function startOnce(
  fixture: Fixture,
  options: { logLevel: string; signal?: AbortSignal },
): Promise<StartupSample> {
  // A known port, so polling can start at the spawn instead of after the Listening line.
  const port = freePort();
  await using server = startOurServer(fixture, { ...options, port });
  let upAt: number;
  try {
    upAt = await waitForStatus(`https://127.0.0.1:${port}/hello`, {
      client: fixture.client,
      status: 401,
      intervalMs: POLL_INTERVAL_MS,
      exited: server.exited,
      signal: options.signal,
    });
  } catch (error) {
    const tail = server.stderr.trim().split("\n").slice(-5).join(" | ");
    throw new Error(`${(error as Error).message}${tail ? `: ${tail}` : ""}`);
  }
  return { firstResponseMs: upAt - server.spawnedAt, rssMiB: await readRssMiB(server.pid) };
}
