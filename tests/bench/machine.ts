/**
 * @module
 * What the benchmark report says about the machine it ran on: CPU model (through `node:os`, since
 * reading /proc needs --allow-all), cores, memory, the Deno, V8 and TypeScript versions, kernel,
 * wrk's version and the load average at the start, as other work on the machine skews the figures.
 */
import { cpus } from "node:os";

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
 * Describes this machine. The CPU model is the "model name" of /proc/cpuinfo, read through
 * `node:os` (Deno lets a program read /proc itself only with --allow-all).
 *
 * @example
 * ```ts
 * const machine = describeMachine("wrk 4.1.0");
 * ```
 */
export function describeMachine(wrk: string): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() || "unknown",
    cores: navigator.hardwareConcurrency,
    memoryMiB: Math.round(Deno.systemMemoryInfo().total / 1024 / 1024),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    target: Deno.build.target,
    kernel: Deno.osRelease(),
    wrk,
    loadAverage: Deno.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}
