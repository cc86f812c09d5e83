/**
 * @module
 * Part (k) of the benchmark: GET /hello with DPoP-bound tokens (ES256 and EdDSA proofs) against
 * the same server's Bearer tokens, under wrk, in alternating rounds. Each DPoP request needs a
 * proof of its own (a new `jti`, and `iat` within the server's 60 s window), so the proofs are
 * signed here just before each run, more than the run can send, and wrk sends one per request
 * from a file; the Bearer run goes through the same per-request Lua path, so that only the
 * server's work differs. The DPoP figure includes what a proof costs the server: a signature check
 * with the embedded key, the thumbprint, and the replay cache's insert into the store. Standalone:
 *
 *   deno run -A tests/bench/dpop_load.ts [--rounds N] [--duration S] [--connections N]
 */
import { freePort, type ServerProcess } from "../helpers/process.ts";
import { DpopKey, type ProofAlg } from "../helpers/dpop.ts";
import { alternatingRounds, type RoundsOptions, runPartAlone } from "./alternating_rounds.ts";
import { type Fixture, startOurServer } from "./fixture.ts";
import { renderTable } from "./table.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

/** What each target presents: a Bearer token, or a DPoP one with proofs of that algorithm. */
export type DpopTarget = "Bearer" | `DPoP ${ProofAlg}`;

/** One wrk run of one target. */
export interface DpopRun {
  target: DpopTarget;
  round: number;
  /** Proofs made for the run (0 for Bearer). */
  proofs: number;
  wrk: WrkResult;
}

/** Part (k)'s figures. */
export interface DpopLoad {
  connections: number;
  runs: DpopRun[];
  /** Proofs the load generator signed per second, by algorithm: its own ceiling. */
  proofsSignedPerSecond: Record<string, number>;
  warnings: string[];
}

const TARGETS: DpopTarget[] = ["Bearer", "DPoP ES256", "DPoP EdDSA"];
/** Proofs for a warm-up, and the most requests per second a measured run is sized for. */
const WARMUP_PROOFS = 20_000;
const MAX_RATE = 20_000;
/**
 * How many more proofs than the warm-up's rate suggests a measured run gets: on a shared machine
 * the rate swings, and a run that runs out sends refused requests, which the warnings name.
 */
const HEADROOM = 3;

/** Starts a server, gets a Bearer and two DPoP tokens, and runs the alternating rounds. */
export async function measureDpopLoad(
  fixture: Fixture,
  options: RoundsOptions,
): Promise<DpopLoad> {
  const { signal } = options;
  const port = freePort();
  const origin = `https://127.0.0.1:${port}`;
  await using server: ServerProcess = startOurServer(fixture, {
    port,
    logLevel: options.logLevel,
    signal,
    env: { PUBLIC_URL: origin },
  });
  await server.listening(30_000);
  const keys = { ES256: await DpopKey.generate("ES256"), EdDSA: await DpopKey.generate("EdDSA") };
  const tokens: Record<DpopTarget, string> = {
    "Bearer": await passwordGrant(origin, fixture),
    "DPoP ES256": await passwordGrant(origin, fixture, keys.ES256),
    "DPoP EdDSA": await passwordGrant(origin, fixture, keys.EdDSA),
  };
  const proofsSignedPerSecond: Record<string, number> = {};
  const run = async (target: DpopTarget, seconds: number, count: number) => {
    const key = target === "Bearer" ? undefined : keys[target === "DPoP ES256" ? "ES256" : "EdDSA"];
    const lines: string[] = [];
    const started = performance.now();
    for (let i = 0; key && i < count; i++) {
      lines.push(await key.proof("GET", `${origin}/hello`, { accessToken: tokens[target] }));
    }
    if (key) proofsSignedPerSecond[key.alg] = count / ((performance.now() - started) / 1000);
    const scheme = key ? "DPoP" : "Bearer";
    const script = await writeScript(fixture, `${scheme} ${tokens[target]}`, lines);
    const wrk = await runWrk(`${origin}/hello`, {
      connections: options.connections,
      durationSeconds: seconds,
      script,
      signal,
    });
    return { proofs: lines.length, wrk };
  };
  const rates = new Map<DpopTarget, number>();
  const { runs, warnings } = await alternatingRounds("k", TARGETS, options, async (
    target,
    seconds,
    warmup,
  ) => {
    if (warmup) {
      const warmed = await run(target, seconds, WARMUP_PROOFS);
      rates.set(target, warmed.wrk.requestsPerSecond);
      return warmed;
    }
    const rate = Math.min(MAX_RATE, Math.max(1000, rates.get(target)! * HEADROOM));
    return await run(target, seconds, Math.ceil(rate * seconds));
  });
  return { connections: options.connections, runs, proofsSignedPerSecond, warnings };
}

/** Renders part (k): requests/s per round, latency, and each DPoP target ÷ Bearer. */
export function renderDpopLoad(load: DpopLoad): string {
  const mean = (target: DpopTarget) => {
    const rates = load.runs.filter((run) => run.target === target).map((run) =>
      run.wrk.requestsPerSecond
    );
    return rates.reduce((a, b) => a + b, 0) / rates.length;
  };
  const rows = TARGETS.map((target) => {
    const runs = load.runs.filter((run) => run.target === target);
    const last = runs.at(-1)!.wrk.latencyMs;
    return [
      target,
      runs.map((run) => run.wrk.requestsPerSecond.toFixed(0)).join(" / "),
      mean(target).toFixed(0),
      (mean(target) / mean("Bearer")).toFixed(2),
      last.p50.toFixed(1),
      last.p99.toFixed(1),
    ];
  });
  const signed = Object.entries(load.proofsSignedPerSecond)
    .map(([alg, rate]) => `${alg} ${rate.toFixed(0)}/s`).join(", ");
  return [
    `(k) GET /hello with DPoP proofs against Bearer, wrk -c${load.connections}, one proof per request`,
    renderTable(
      ["token", "requests/s per round", "mean", "÷ Bearer", "p50 ms", "p99 ms"],
      rows,
      ["left", "right", "right", "right", "right", "right"],
    ),
    `  proofs signed by the load generator before each run: ${signed}`,
  ].join("\n");
}

/** A password grant of the default client, with a proof of `key` when given; the access token. */
async function passwordGrant(origin: string, fixture: Fixture, key?: DpopKey): Promise<string> {
  const headers: Record<string, string> = {};
  if (key) headers.dpop = await key.proof("POST", `${origin}/oauth/token`);
  const res = await fetch(`${origin}/oauth/token`, {
    method: "POST",
    client: fixture.client,
    headers,
    body: new URLSearchParams({
      grant_type: "password",
      client_id: "auth-api",
      username: fixture.username,
      password: fixture.password,
    }),
  });
  const body = await res.json();
  if (res.status !== 200) {
    throw new Error(`Token request answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

/** A wrk script that sends one line of `proofs` per request (none: no DPoP header). */
async function writeScript(
  fixture: Fixture,
  authorization: string,
  proofs: string[],
): Promise<string> {
  const file = `${fixture.dir}/dpop-proofs.txt`;
  await Deno.writeTextFile(file, proofs.join("\n") + "\n");
  const script = `${fixture.dir}/dpop.lua`;
  await Deno.writeTextFile(
    script,
    [
      "local proofs = {}",
      `for line in io.lines(${JSON.stringify(file)}) do proofs[#proofs + 1] = line end`,
      "local sent = 0",
      `local authorization = ${JSON.stringify(authorization)}`,
      "request = function()",
      "  sent = sent + 1",
      '  local headers = { ["Authorization"] = authorization }',
      '  if #proofs > 0 then headers["DPoP"] = proofs[sent] or "exhausted" end',
      '  return wrk.format("GET", "/hello", headers)',
      "end",
      "",
    ].join("\n"),
  );
  return script;
}

if (import.meta.main) {
  await runPartAlone({ measure: measureDpopLoad, render: renderDpopLoad }, { connections: 32 });
}
