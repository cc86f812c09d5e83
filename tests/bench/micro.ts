/**
 * @module
 * Part (d) of the benchmark: runs `deno bench --json` on tests/bench/micro_bench.ts in a child
 * process with no permissions at all and reads back each bench's mean, p75 and p99 time per
 * operation, or the error it threw.
 */
import { resolve } from "node:path";

/** One `Deno.bench` result. */
export interface MicroResult {
  group: string | null;
  name: string;
  /** Mean time per operation, ns. */
  avgNs: number;
  p75Ns: number;
  p99Ns: number;
  /** Iterations measured. */
  n: number;
  /** Set when the bench threw instead of finishing. */
  error?: string;
}

const BENCH_FILE = resolve(import.meta.dirname!, "micro_bench.ts");

/**
 * Runs `deno bench --json` on micro_bench.ts in a child process, with no permissions (the file
 * needs none), and returns its results; with `filter`, only the benches whose names have it.
 *
 * @example
 * ```ts
 * const results = await runMicroBenchmarks(REPO_ROOT);
 * ```
 */
export async function runMicroBenchmarks(
  cwd: string,
  { signal, timeoutMs = 300_000, filter }: {
    signal?: AbortSignal;
    timeoutMs?: number;
    filter?: string;
  } = {},
): Promise<MicroResult[]> {
  const bound = AbortSignal.timeout(timeoutMs);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bench",
      "--json",
      "--no-prompt",
      ...(filter === undefined ? [] : ["--filter", filter]),
      BENCH_FILE,
    ],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: signal ? AbortSignal.any([signal, bound]) : bound,
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const detail = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3);
    throw new Error(`deno bench failed (exit ${output.code}): ${detail.join(" | ")}`);
  }
  return parseBenchJson(text);
}

interface BenchJson {
  benches: {
    group: string | null;
    name: string;
    results: ({ ok: { n: number; avg: number; p75: number; p99: number } } | {
      failed: unknown;
    })[];
  }[];
}

/** Extracts the per-bench figures from `deno bench --json` output. */
export function parseBenchJson(text: string): MicroResult[] {
  const parsed = JSON.parse(text) as BenchJson;
  return parsed.benches.map(({ group, name, results }) => {
    const result = results[0];
    if (result && "ok" in result) {
      const { n, avg, p75, p99 } = result.ok;
      return { group, name, avgNs: avg, p75Ns: p75, p99Ns: p99, n };
    }
    const error = result && "failed" in result ? JSON.stringify(result.failed) : "no result";
    return { group, name, avgNs: NaN, p75Ns: NaN, p99Ns: NaN, n: 0, error };
  });
}
