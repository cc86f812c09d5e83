/**
 * @module
 * Part (a) of the benchmark: GET /hello with one bearer token under wrk on our server (with and
 * without metrics) and on each ceiling and peer (the bare `Deno.serve` servers, Hono, Fastify with
 * and without its verify cache), in alternating rounds, with our server's resident memory sampled
 * during the runs and each ratio taken round by round.
 */
import { sampleMemory } from "./memory.ts";
import { mean } from "./stats.ts";
import { isClean, runWrk, type WrkResult } from "./wrk.ts";

/** The servers GET /hello is measured on. */
export type HelloTargetName =
  | "ours"
  | "ours-metrics"
  | "bare-minimal"
  | "bare-same-headers"
  | "bare-same-work"
  | "hono"
  | "fastify"
  | "fastify-cache";

/** A server under /hello load. */
export interface HelloTarget {
  name: HelloTargetName;
  /** Origin to load, such as `https://127.0.0.1:40123`. */
  url: string;
  /** Process whose VmRSS is sampled during the runs, when set. */
  pid?: number;
}

/** One measured wrk run. */
export interface HelloRun {
  target: HelloTargetName;
  round: number;
  wrk: WrkResult;
  /** No non-2xx answers and no socket errors. */
  clean: boolean;
  /** Largest and last VmRSS sampled during the run, MiB (targets with a pid). */
  rssMaxMiB?: number;
  rssEndMiB?: number;
}

/** Means over the rounds of one target. */
export interface HelloSummary {
  target: HelloTargetName;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  perRoundRequestsPerSecond: number[];
  clean: boolean;
}

/** Requests/s of one server ÷ another's, round by round and their mean. */
export interface HelloRatio {
  of: HelloTargetName;
  to: HelloTargetName;
  perRound: number[];
  mean: number;
}

/** Everything part (a) measured. */
export interface HelloLoad {
  threads: number;
  connections: number;
  durationSeconds: number;
  rounds: number;
  runs: HelloRun[];
  summaries: HelloSummary[];
  /**
   * Ours ÷ each ceiling, and bare-same-headers and bare-same-work ÷ bare-minimal: the share left
   * after the headers alone and after the headers, request id and log line, which separates their
   * cost from that of authentication and routing.
   */
  ratios: HelloRatio[];
}

/** Settings of part (a). */
export interface HelloLoadOptions {
  rounds: number;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** A fresh valid token (a real login), asked for before each run. */
  token: () => Promise<string>;
  /** Called before each run, for progress output. */
  progress?: (message: string) => void;
  signal?: AbortSignal;
}

/**
 * Loads GET /hello on each target in turn (A B C A B C …) with the same request, bearer token
 * included, and compares ours with each ceiling round by round.
 *
 * @example
 * ```ts
 * const load = await measureHelloLoad(targets, { rounds: 2, connections: 32, durationSeconds: 10, warmupSeconds: 2, token });
 * ```
 */
export async function measureHelloLoad(
  targets: HelloTarget[],
  options: HelloLoadOptions,
): Promise<HelloLoad> {
  const { rounds, connections, durationSeconds, warmupSeconds, signal } = options;
  const load = async (target: HelloTarget, seconds: number) => {
    const authorization = `Bearer ${await options.token()}`;
    return await runWrk(`${target.url}/hello`, {
      connections,
      durationSeconds: seconds,
      headers: { authorization },
      signal,
    });
  };
  for (const target of targets) {
    options.progress?.(`(a) warm-up ${target.name}, ${warmupSeconds} s`);
    await load(target, warmupSeconds);
  }
  const runs: HelloRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const target of targets) {
      options.progress?.(`(a) round ${round}/${rounds}: ${target.name}, ${durationSeconds} s`);
      const sampler = target.pid === undefined ? undefined : sampleMemory(target.pid);
      let wrk: WrkResult;
      let memory: { maxMiB: number; lastMiB: number } | undefined;
      try {
        wrk = await load(target, durationSeconds);
      } finally {
        memory = await sampler?.stop();
      }
      runs.push({
        target: target.name,
        round,
        wrk,
        clean: isClean(wrk),
        rssMaxMiB: memory?.maxMiB,
        rssEndMiB: memory?.lastMiB,
      });
    }
  }
  const summaries = targets.map(({ name }) => summarize(name, runs));
  const names = new Set(targets.map(({ name }) => name));
  const pairs: [HelloTargetName, HelloTargetName][] = [
    ["ours", "bare-minimal"],
    ["ours", "bare-same-headers"],
    ["ours", "bare-same-work"],
    ["bare-same-headers", "bare-minimal"],
    ["bare-same-work", "bare-minimal"],
    ["ours-metrics", "ours"],
    ["ours", "hono"],
    ["ours", "fastify"],
    ["ours", "fastify-cache"],
  ];
  const ratios = pairs
    .filter(([of, to]) => names.has(of) && names.has(to))
    .map(([of, to]) => ratio(runs, of, to));
  return { threads: 1, connections, durationSeconds, rounds, runs, summaries, ratios };
}

function ratio(runs: HelloRun[], of: HelloTargetName, to: HelloTargetName): HelloRatio {
  const perRound = runs.filter((run) => run.target === of).map((run) => {
    const other = runs.find((candidate) =>
      candidate.target === to && candidate.round === run.round
    )!;
    return run.wrk.requestsPerSecond / other.wrk.requestsPerSecond;
  });
  return { of, to, perRound, mean: mean(perRound) };
}

function summarize(target: HelloTargetName, runs: HelloRun[]): HelloSummary {
  const own = runs.filter((run) => run.target === target);
  return {
    target,
    requestsPerSecond: mean(own.map((run) => run.wrk.requestsPerSecond)),
    p50Ms: mean(own.map((run) => run.wrk.latencyMs.p50)),
    p99Ms: mean(own.map((run) => run.wrk.latencyMs.p99)),
    perRoundRequestsPerSecond: own.map((run) => run.wrk.requestsPerSecond),
    clean: own.every((run) => run.clean),
  };
}

/** What one GET /hello answer looked like, to check that the ceilings answer alike. */
export interface HelloAnswer {
  status: number;
  body: string;
  /** Header names, sorted, without those every server adds (date, content-length, vary). */
  headerNames: string[];
}

/** Fetches GET /hello once with the token and records the answer. */
export async function fetchHello(
  url: string,
  token: string,
  client: Deno.HttpClient,
): Promise<HelloAnswer> {
  const res = await fetch(`${url}/hello`, {
    client,
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  const ignored = new Set(["date", "content-length", "vary"]);
  return {
    status: res.status,
    body: await res.text(),
    headerNames: [...res.headers.keys()].filter((name) => !ignored.has(name)).sort(),
  };
}
