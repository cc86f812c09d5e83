/**
 * @module
 * Part (f): GET /hello for a legitimate client while a second wrk floods the server with access
 * tokens from the same address (loopback), either valid ones or forged ones (a valid kid and one
 * flipped signature bit). Both floods have the same connections and duration; the legitimate
 * client's token has been used before, as a real client's has. The same again against a server
 * behind a trusted proxy (`TRUSTED_PROXIES`), where the legitimate client and the flood come
 * from two different forwarded addresses.
 */
import { isClean, runWrk, type WrkResult } from "./wrk.ts";

/** What a flood sends. */
export type FloodKind =
  | "valid"
  | "forged"
  | "forged-unbudgeted"
  | "valid-proxied"
  | "forged-proxied";

/** One run: the legitimate load and the flood, side by side. */
export interface FloodRun {
  kind: FloodKind;
  round: number;
  legit: WrkResult;
  flood: WrkResult;
}

/** Everything part (f) measured. */
export interface FloodResult {
  durationSeconds: number;
  rounds: number;
  legitConnections: number;
  floodConnections: number;
  runs: FloodRun[];
  /** Mean over rounds of the legitimate client's req/s, by flood kind. */
  legitRequestsPerSecond: Record<FloodKind, number>;
  /** Mean over rounds of the flood's own req/s, by flood kind. */
  floodRequestsPerSecond: Record<FloodKind, number>;
  /** Legitimate req/s during the forged flood ÷ during the valid flood. */
  ratio: number;
  /** The same with the invalid-token budget off. */
  unbudgetedRatio: number;
  /** The same behind a trusted proxy, the legitimate client and the flood at two addresses. */
  proxiedRatio: number;
  /** Whether every legitimate and valid-flood answer was 200 and every forged one was not. */
  clean: boolean;
}

/** A server under the flood, and how to get a token from it. */
export interface FloodTarget {
  url: string;
  token: () => Promise<string>;
}

/** Settings of part (f). */
export interface FloodOptions {
  /** Our server as configured by default. */
  budgeted: FloodTarget;
  /** Our server with INVALID_TOKEN_BUDGET_PER_MINUTE too high to matter. */
  unbudgeted: FloodTarget;
  /** Our server with TRUSTED_PROXIES naming loopback, the address wrk connects from. */
  proxied: FloodTarget;
  legitConnections: number;
  floodConnections: number;
  durationSeconds: number;
  rounds: number;
  progress?: (message: string) => void;
  signal?: AbortSignal;
}

/** The forwarded addresses of the legitimate client and of the flood behind the trusted proxy. */
const LEGIT_ADDRESS = "203.0.113.10";
const FLOOD_ADDRESS = "198.51.100.20";

/** The token with the last byte of its signature flipped: a valid kid, a failing signature. */
export function forgeToken(token: string): string {
  const [header, payload, signature] = token.split(".");
  const bytes = Uint8Array.fromBase64(signature, { alphabet: "base64url" });
  bytes[bytes.length - 1] ^= 0x01;
  return `${header}.${payload}.${bytes.toBase64({ alphabet: "base64url", omitPadding: true })}`;
}

/**
 * Runs, per round, the valid flood, the forged flood and the forged flood without the budget,
 * each alongside the legitimate client's load.
 *
 * @example
 * ```ts
 * const flood = await measureFlood({ budgeted, unbudgeted, legitConnections: 16, floodConnections: 16, durationSeconds: 10, rounds: 2 });
 * flood.ratio; // target ≥ 0.9
 * ```
 */
export async function measureFlood(options: FloodOptions): Promise<FloodResult> {
  const { legitConnections, floodConnections, durationSeconds, rounds, signal } = options;
  const tokens = async (target: FloodTarget) => {
    const [legit, other] = [await target.token(), await target.token()];
    return { legit, valid: other, forged: forgeToken(other) };
  };
  const budgeted = await tokens(options.budgeted);
  const unbudgeted = await tokens(options.unbudgeted);
  const proxied = await tokens(options.proxied);
  const load = (url: string, token: string, connections: number, forwardedFor?: string) =>
    runWrk(`${url}/hello`, {
      connections,
      durationSeconds,
      headers: {
        authorization: `Bearer ${token}`,
        ...(forwardedFor && { "x-forwarded-for": forwardedFor }),
      },
      signal,
    });
  const plan: [FloodKind, FloodTarget, { legit: string; flood: string }][] = [
    ["valid", options.budgeted, { legit: budgeted.legit, flood: budgeted.valid }],
    ["forged", options.budgeted, { legit: budgeted.legit, flood: budgeted.forged }],
    ["forged-unbudgeted", options.unbudgeted, {
      legit: unbudgeted.legit,
      flood: unbudgeted.forged,
    }],
    ["valid-proxied", options.proxied, { legit: proxied.legit, flood: proxied.valid }],
    ["forged-proxied", options.proxied, { legit: proxied.legit, flood: proxied.forged }],
  ];
  const runs: FloodRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [kind, target, token] of plan) {
      options.progress?.(`(f) /hello during a ${kind} flood, round ${round}, ${durationSeconds} s`);
      const behindProxy = target === options.proxied;
      const [legit, flood] = await Promise.all([
        load(target.url, token.legit, legitConnections, behindProxy ? LEGIT_ADDRESS : undefined),
        load(target.url, token.flood, floodConnections, behindProxy ? FLOOD_ADDRESS : undefined),
      ]);
      runs.push({ kind, round, legit, flood });
    }
  }
  const mean = (kind: FloodKind, side: "legit" | "flood") => {
    const of = runs.filter((run) => run.kind === kind);
    return of.reduce((sum, run) => sum + run[side].requestsPerSecond, 0) / of.length;
  };
  const legitRequestsPerSecond = {
    valid: mean("valid", "legit"),
    forged: mean("forged", "legit"),
    "forged-unbudgeted": mean("forged-unbudgeted", "legit"),
    "valid-proxied": mean("valid-proxied", "legit"),
    "forged-proxied": mean("forged-proxied", "legit"),
  };
  return {
    durationSeconds,
    rounds,
    legitConnections,
    floodConnections,
    runs,
    legitRequestsPerSecond,
    floodRequestsPerSecond: {
      valid: mean("valid", "flood"),
      forged: mean("forged", "flood"),
      "forged-unbudgeted": mean("forged-unbudgeted", "flood"),
      "valid-proxied": mean("valid-proxied", "flood"),
      "forged-proxied": mean("forged-proxied", "flood"),
    },
    ratio: legitRequestsPerSecond.forged / legitRequestsPerSecond.valid,
    unbudgetedRatio: legitRequestsPerSecond["forged-unbudgeted"] / legitRequestsPerSecond.valid,
    proxiedRatio: legitRequestsPerSecond["forged-proxied"] /
      legitRequestsPerSecond["valid-proxied"],
    clean: runs.every((run) =>
      isClean(run.legit) &&
      (run.kind.startsWith("valid") ? isClean(run.flood) : run.flood.non2xx === run.flood.requests)
    ),
  };
}
