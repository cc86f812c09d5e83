/**
 * @module
 * The password hash's ceiling on logins per second, which part (b) of the benchmark is compared
 * with: PBKDF2 at the configured iteration count timed one hash after another, then one hash per
 * core at once, in this process through Web Crypto.
 */
import { Passwords } from "../../src/auth/accounts/passwords.ts";
import { mean, median } from "./stats.ts";

/** The most logins per second the password hash allows on this machine. */
export interface HashCeiling {
  iterations: number;
  /** Sequential hashes timed. */
  sequentialCount: number;
  /** Mean time of one hash, ms. */
  msPerHash: number;
  medianMsPerHash: number;
  cores: number;
  /** `cores ÷ time of one hash`: the ceiling /login is compared with, per second. */
  ceilingPerSecond: number;
  /** Hashes run at once in each parallel batch (one per core). */
  parallelCount: number;
  parallelBatches: number;
  /** Hashes per second measured with `parallelCount` at once: what the cores really give. */
  parallelPerSecond: number;
}

/**
 * Times `sequential` PBKDF2 hashes one after another, then batches of one hash per core at once,
 * in this process (Web Crypto runs them off the main thread).
 *
 * @example
 * ```ts
 * const ceiling = await measureHashCeiling(600_000);
 * ceiling.ceilingPerSecond;
 * ```
 */
export async function measureHashCeiling(
  iterations: number,
  { sequential = 8, batches = 2 }: { sequential?: number; batches?: number } = {},
): Promise<HashCeiling> {
  const hasher = new Passwords(iterations);
  await hasher.hash("warm-up");
  const times: number[] = [];
  for (let i = 0; i < sequential; i++) {
    const started = performance.now();
    await hasher.hash(`password-${i}`);
    times.push(performance.now() - started);
  }
  const cores = navigator.hardwareConcurrency;
  const started = performance.now();
  for (let batch = 0; batch < batches; batch++) {
    await Promise.all(Array.from({ length: cores }, (_, i) => hasher.hash(`parallel-${i}`)));
  }
  const parallelSeconds = (performance.now() - started) / 1000;
  const msPerHash = mean(times);
  return {
    iterations,
    sequentialCount: sequential,
    msPerHash,
    medianMsPerHash: median(times),
    cores,
    ceilingPerSecond: cores * 1000 / msPerHash,
    parallelCount: cores,
    parallelBatches: batches,
    parallelPerSecond: cores * batches / parallelSeconds,
  };
}
