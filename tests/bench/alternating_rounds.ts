/**
 * Parts of the benchmark that compare several targets under wrk in alternating rounds: the
 * settings they share, the rounds themselves (each target warmed up once, then measured once a
 * round, the order reversed every other round so that drift on a shared machine falls on every
 * target alike), and running such a part alone from the command line. It knows no target.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createFixture, type Fixture } from "./fixture.ts";
import { describeErrors, type WrkResult } from "./wrk.ts";

/** Settings of a part measured in alternating rounds. */
export interface RoundsOptions {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  logLevel: string;
  progress?: (message: string) => void;
  signal?: AbortSignal;
}

/** One measured run of one target, with what the part's `run` added to it. */
export type RoundRun<T extends string, R> = R & { target: T; round: number };

/**
 * Warms each target up (`warmup` true), then measures each in `options.rounds` alternating
 * rounds; reports progress and names every run with errors in `warnings`, prefixed `(part)`.
 */
export async function alternatingRounds<T extends string, R extends { wrk: WrkResult }>(
  part: string,
  targets: readonly T[],
  options: RoundsOptions,
  run: (target: T, seconds: number, warmup: boolean) => Promise<R>,
): Promise<{ runs: RoundRun<T, R>[]; warnings: string[] }> {
  const progress = options.progress ?? (() => {});
  for (const target of targets) {
    progress(`(${part}) warming up ${target}`);
    await run(target, options.warmupSeconds, true);
  }
  const runs: RoundRun<T, R>[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of round % 2 ? targets : [...targets].reverse()) {
      progress(`(${part}) round ${round}: ${target}, ${options.durationSeconds} s`);
      runs.push({ ...await run(target, options.durationSeconds, false), target, round });
    }
  }
  const warnings = runs.flatMap((run) => {
    const errors = describeErrors(run.wrk);
    return errors ? [`(${part}) ${run.target} round ${run.round}: ${errors}`] : [];
  });
  return { runs, warnings };
}

/**
 * Runs one part alone, as `deno run -A tests/bench/<part>.ts [--rounds N] [--duration S]
 * [--connections N] [--log-level LEVEL]` does: measures it on a new fixture and prints its
 * table and warnings.
 */
export async function runPartAlone<L extends { warnings: string[] }>(
  part: {
    measure: (fixture: Fixture, options: RoundsOptions) => Promise<L>;
    render: (load: L) => string;
  },
  defaults: { connections: number },
): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "2" },
      duration: { type: "string", default: "5" },
      connections: { type: "string", default: String(defaults.connections) },
      "log-level": { type: "string", default: "info" },
    },
  });
  await using fixture = await createFixture();
  const load = await part.measure(fixture, {
    rounds: Number(values.rounds),
    durationSeconds: Number(values.duration),
    warmupSeconds: 2,
    connections: Number(values.connections),
    logLevel: values["log-level"],
    progress: (message) => console.error(`bench: ${message}`),
  });
  console.log(part.render(load));
  for (const warning of load.warnings) console.log(`warning: ${warning}`);
}
