/**
 * @module
 * Our server's resident memory as the benchmark reports it: VmRSS of a process in MiB read through
 * `ps` (Deno reads /proc only with --allow-all), once or sampled every 250 ms while a load runs,
 * with the peak and the last sample kept.
 */

/**
 * Reads the resident set size (VmRSS of /proc/<pid>/status) of `pid` in MiB, through `ps`:
 * Deno lets a program read /proc only with --allow-all. Undefined when the process is gone or
 * `ps` is missing.
 */
export async function readRssMiB(pid: number): Promise<number | undefined> {
  try {
    const { success, stdout } = await new Deno.Command("ps", {
      args: ["-o", "rss=", "-p", String(pid)],
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(5000),
    }).output();
    const kib = Number(new TextDecoder().decode(stdout).trim());
    return success && kib > 0 ? kib / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's resident memory while something runs. */
export interface MemorySampler {
  /** Stops sampling; returns the largest and the last resident size seen, MiB (NaN if none). */
  stop(): Promise<{ maxMiB: number; lastMiB: number }>;
}

/**
 * Reads `pid`'s resident memory every `intervalMs` until stopped.
 *
 * @example
 * ```ts
 * const sampler = sampleMemory(server.pid);
 * await runWrk(url, options);
 * const { maxMiB } = await sampler.stop();
 * ```
 */
export function sampleMemory(pid: number, intervalMs = 250): MemorySampler {
  let maxMiB = NaN;
  let lastMiB = NaN;
  let reading: Promise<void> = Promise.resolve();
  const read = () => {
    reading = reading.then(() => readRssMiB(pid)).then((rss) => {
      if (rss === undefined) return;
      lastMiB = rss;
      maxMiB = Number.isNaN(maxMiB) ? rss : Math.max(maxMiB, rss);
    });
  };
  read();
  const timer = setInterval(read, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      read();
      await reading;
      return { maxMiB, lastMiB };
    },
  };
}
