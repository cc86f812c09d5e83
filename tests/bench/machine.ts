/** The machine a benchmark ran on. */
export interface MachineInfo {
  cpuModel: string;
  /** Logical processors (`navigator.hardwareConcurrency`). */
  cores: number;
  memoryMiB: number;
  deno: string;
  v8: string;
  typescript: string;
  target: string;
  kernel: string;
  wrk: string;
  /** 1, 5 and 15 minute load averages when the run started: other work skews the figures. */
  loadAverage: number[];
}

/**
 * Describes this machine from /proc and `Deno.version`.
 *
 * @example
 * ```ts
 * const machine = await describeMachine("wrk 4.1.0");
 * ```
 */
export async function describeMachine(wrk: string): Promise<MachineInfo> {
  const [cpuinfo, meminfo, kernel, loadavg] = await Promise.all([
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/sys/kernel/osrelease",
    "/proc/loadavg",
  ].map((path) => Deno.readTextFile(path).catch(() => "")));
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryMiB: Math.round(Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? NaN) / 1024),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    target: Deno.build.target,
    kernel: kernel.trim() || "unknown",
    wrk,
    loadAverage: loadavg.split(" ").slice(0, 3).map(Number),
  };
}
