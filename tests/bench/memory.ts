/** Resident memory of a process, from /proc/<pid>/status. */
export interface ProcessMemory {
  /** Current resident set size, MiB. */
  rssMiB: number;
  /** Peak resident set size since the process started, MiB. */
  peakMiB: number;
}

/** Reads VmRSS and VmHWM of `pid` (Linux); undefined when the process is gone. */
export async function readMemory(pid: number): Promise<ProcessMemory | undefined> {
  let status: string;
  try {
    status = await Deno.readTextFile(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/** Samples a process's VmRSS while something runs. */
export interface MemorySampler {
  /** Stops sampling; returns the largest VmRSS seen and the last one, MiB. */
  stop(): Promise<{ maxMiB: number; lastMiB: number }>;
}

/**
 * Reads `pid`'s VmRSS every `intervalMs` until stopped.
 *
 * @example
 * ```ts
 * const sampler = sampleMemory(server.pid);
 * await runWrk(url, options);
 * const { maxMiB } = await sampler.stop();
 * ```
 */
export function sampleMemory(pid: number, intervalMs = 250): MemorySampler {
  let maxMiB = 0;
  let lastMiB = NaN;
  let reading: Promise<void> = Promise.resolve();
  const read = () => {
    reading = readMemory(pid).then((memory) => {
      if (!memory) return;
      lastMiB = memory.rssMiB;
      maxMiB = Math.max(maxMiB, memory.rssMiB);
    });
  };
  read();
  const timer = setInterval(read, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await reading;
      read();
      await reading;
      return { maxMiB, lastMiB };
    },
  };
}
