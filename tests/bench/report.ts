/**
 * @module
 * The benchmark's report: the figures of one run as the JSON written to tests/bench/results.json,
 * each checked against its target in tests/bench/targets.ts, and the text table `deno task bench`
 * prints, part by part. It renders only; it measures nothing.
 */
import type { FloodResult } from "./flood.ts";
import type { HashCeiling } from "./hash_ceiling.ts";
import type { HelloAnswer, HelloLoad } from "./hello_load.ts";
import type { LoginLoad } from "./login_load.ts";
import type { MachineInfo } from "./machine.ts";
import type { MicroResult } from "./micro.ts";
import type { BenchOptions } from "./options.ts";
import type { SlowResult, SlowSetup } from "./slow.ts";
import type { StartupResult } from "./startup.ts";
import type { StormResult } from "./storm.ts";
import { renderTable } from "./table.ts";
import { renderTokenLoad, TOKEN_TARGET_PAIR, type TokenLoad } from "./token_load.ts";
import { type DpopLoad, renderDpopLoad } from "./dpop_load.ts";
import { type EndpointLatency, renderEndpointLatency } from "./endpoint_latency.ts";
import { check, type TargetCheck, TARGETS, verdict } from "./targets.ts";
import { isClean, type WrkResult } from "./wrk.ts";

/** Resident memory of our server over the run, MiB (VmRSS, sampled every 250 ms under load). */
export interface MemoryReport {
  /** After start-up, before any load. */
  idleMiB: number;
  /** Largest resident size sampled during the /hello runs of part (a). */
  loadPeakMiB: number;
  /** Resident size when the last /hello run of part (a) ended. */
  loadEndMiB: number;
  /** Largest resident size sampled during the login load and the storm, parts (b) and (c). */
  loginPeakMiB: number;
}

/** The figures of one benchmark run: what the table shows and the JSON holds. */
export interface BenchReport {
  version: 1;
  startedAt: string;
  elapsedSeconds: number;
  options: Omit<BenchOptions, "help" | "out">;
  machine: MachineInfo;
  /** One GET /hello answer of each server, to show they answer alike. */
  answers: Record<string, HelloAnswer>;
  hello: HelloLoad;
  /** What ran the Fastify peers of part (a): "node v20.…" or "deno". */
  fastifyRuntime: string;
  hashCeiling: HashCeiling;
  login: LoginLoad;
  storm: StormResult;
  micro: MicroResult[];
  startup: StartupResult;
  memory: MemoryReport;
  flood: FloodResult;
  slow: SlowResult;
  /** Part (i): client_credentials grants against oidc-provider. */
  tokens: TokenLoad;
  /** Part (j): each endpoint's latency on one kept-alive connection. */
  endpoints: EndpointLatency[];
  /** Part (k): GET /hello with DPoP proofs against Bearer tokens. */
  dpop: DpopLoad;
  targets: TargetCheck[];
  warnings: string[];
}

/** Checks the figures against {@linkcode TARGETS}. */
export function evaluateTargets(
  report: Pick<
    BenchReport,
    "hello" | "login" | "storm" | "startup" | "memory" | "flood" | "slow" | "tokens"
  >,
): TargetCheck[] {
  const { hello, login, storm, startup, memory, flood, slow, tokens } = report;
  const slowTarget = slow.haproxy
    ? [
      check(
        "g",
        "slow connections closed behind HAProxy",
        slowestClose(slow.haproxy),
        "<=",
        TARGETS.slowClosedSeconds,
        "s",
      ),
    ]
    : [];
  return [
    ...hello.ratios.filter((ratio) => ratio.of === "ours" && ratio.to in HELLO_BARE_TARGETS).map((
      ratio,
    ) =>
      check(
        "a",
        `/hello ours ÷ ${ratio.to}`,
        ratio.mean,
        ">=",
        HELLO_BARE_TARGETS[ratio.to as keyof typeof HELLO_BARE_TARGETS],
      )
    ),
    ...hello.ratios.filter((ratio) => ratio.of === "ours" && ratio.to === "fastify-cache").map((
      ratio,
    ) => check("a", "/hello ours ÷ fastify-cache", ratio.mean, ">=", TARGETS.fastifyCacheRatio)),
    check("b", "logins/s ÷ (cores ÷ hash time)", login.ratio, ">=", TARGETS.loginRatio),
    check("c", "/hello req/s storm ÷ solo", storm.ratio, ">=", TARGETS.stormRatio),
    check("c", "/hello p99 during storm", storm.storm.latencyMs.p99, "<", TARGETS.stormP99Ms, "ms"),
    check("e", "spawn to first response (median)", startup.medianMs, "<", TARGETS.startupMs, "ms"),
    check("e", "RSS peak under load (a)", memory.loadPeakMiB, "<", TARGETS.rssMiB, "MiB"),
    check("f", "/hello forged flood ÷ valid flood", flood.ratio, ">=", TARGETS.floodRatio),
    check(
      "f",
      "/hello forged ÷ valid flood behind a trusted proxy",
      flood.proxiedRatio,
      ">=",
      TARGETS.floodRatio,
    ),
    ...hello.ratios.filter((ratio) => ratio.of === "ours-metrics").map((ratio) =>
      check("h", "/hello with metrics ÷ without", ratio.mean, ">=", TARGETS.metricsRatio)
    ),
    ...slowTarget,
    ...tokens.ratios.filter((ratio) =>
      ratio.of === TOKEN_TARGET_PAIR[0] && ratio.to === TOKEN_TARGET_PAIR[1]
    )
      .map((ratio) =>
        check("i", `grants/s ${ratio.of} ÷ ${ratio.to}`, ratio.mean, ">=", TARGETS.tokenEs256Ratio)
      ),
  ];
}

/** The bare servers of part (a) that ours is held to, and how close it must come. */
const HELLO_BARE_TARGETS = {
  "bare-minimal": TARGETS.helloMinimalRatio,
  "bare-same-work": TARGETS.helloSameWorkRatio,
} as const;

/** Longest any slow connection stayed open, seconds; NaN when one was never closed. */
export function slowestClose(setup: SlowSetup): number {
  return Math.max(...Object.values(setup.maxOpenSecondsByKind));
}

/** Renders the report as the text table `deno task bench` prints. */
export function renderReport(report: BenchReport): string {
  const { options, machine, hello, hashCeiling, login, storm, startup, memory } = report;
  const target = (part: string, label: string) => {
    const found = report.targets.find((t) => t.part === part && t.label === label);
    return found
      ? `target ${symbol(found)} ${found.threshold}${unit(found)}  ${verdict(found)}`
      : "";
  };
  const out: string[] = [];
  out.push(
    `auth-api benchmark  ${report.startedAt}  ${options.quick ? "quick" : "normal"} run: ` +
      `${options.durationSeconds} s per run, ${options.rounds} round(s), ` +
      `${report.elapsedSeconds.toFixed(0)} s in all`,
    `Machine: ${machine.cpuModel}, ${machine.cores} cores, ` +
      `${(machine.memoryMiB / 1024).toFixed(1)} GiB, Linux ${machine.kernel}, ` +
      `Deno ${machine.deno} (V8 ${machine.v8}), ${machine.wrk}, ` +
      `load average ${machine.loadAverage.join(" ")} at start`,
    "",
  );

  out.push(
    `(a) GET /hello over HTTPS keep-alive: wrk -t${hello.threads} -c${hello.connections} ` +
      `--latency, ${hello.durationSeconds} s x ${hello.rounds} round(s), runs alternating; ` +
      `our server with LOG_LEVEL=${options.logLevel}; Hono on Deno, Fastify on ` +
      report.fastifyRuntime,
    renderTable(
      ["server", "req/s", "p50 ms", "p99 ms", "req/s per round", "clean"],
      hello.summaries.map((s) => [
        s.target,
        integer(s.requestsPerSecond),
        ms(s.p50Ms),
        ms(s.p99Ms),
        s.perRoundRequestsPerSecond.map(integer).join(" / "),
        s.clean ? "yes" : "NO",
      ]),
      ["left", "right", "right", "right", "right", "left"],
    ),
    renderTable(
      ["ratio (mean over rounds)", "value", "per round", "target"],
      hello.ratios.map((r) => [
        `${r.of} ÷ ${r.to}`,
        r.mean.toFixed(3),
        r.perRound.map((v) => v.toFixed(3)).join(" / "),
        r.of === "ours"
          ? target("a", `/hello ours ÷ ${r.to}`)
          : r.of === "ours-metrics"
          ? target("h", "/hello with metrics ÷ without")
          : r.of === "bare-same-headers"
          ? "(cost of the headers alone)"
          : "(cost of the headers, request id and log line)",
      ]),
      ["left", "right", "right", "left"],
    ),
    "",
  );

  out.push(
    `(b) POST /login (valid credentials): wrk -t1 -c${login.connections}, ` +
      `${login.durationSeconds} s; hash = PBKDF2-SHA256 at ${hashCeiling.iterations} iterations`,
    renderTable(
      ["figure", "value", "", "target"],
      [
        ["logins/s", login.loginsPerSecond.toFixed(2), latency(login.wrk), ""],
        [
          `one hash (mean of ${hashCeiling.sequentialCount} sequential)`,
          `${hashCeiling.msPerHash.toFixed(1)} ms`,
          `median ${hashCeiling.medianMsPerHash.toFixed(1)} ms`,
          "",
        ],
        [
          `ceiling: ${hashCeiling.cores} cores ÷ one hash`,
          `${hashCeiling.ceilingPerSecond.toFixed(2)}/s`,
          "",
          "",
        ],
        [
          `${hashCeiling.parallelCount} hashes at once (measured)`,
          `${hashCeiling.parallelPerSecond.toFixed(2)}/s`,
          `ratio to it ${login.ratioToParallel.toFixed(3)}`,
          "",
        ],
        [
          "logins/s ÷ ceiling",
          login.ratio.toFixed(3),
          "",
          target("b", "logins/s ÷ (cores ÷ hash time)"),
        ],
        [
          "non-2xx answers (400/429)",
          String(login.wrk.non2xx),
          `login after the load: ${login.acceptedAfterLoad ? "200" : "REFUSED"}`,
          "",
        ],
      ],
      ["left", "right", "left", "left"],
    ),
    "",
  );

  out.push(
    `(c) GET /hello during a login storm: wrk -c${storm.helloConnections} /hello alongside ` +
      `wrk -c${storm.loginConnections} /login, ${storm.durationSeconds} s each`,
    renderTable(
      ["phase", "req/s", "p50 ms", "p99 ms", "logins/s", "clean"],
      [
        ["solo", storm.solo, undefined] as const,
        ["storm", storm.storm, storm.logins] as const,
      ].map(([name, run, logins]) => [
        name,
        integer(run.requestsPerSecond),
        ms(run.latencyMs.p50),
        ms(run.latencyMs.p99),
        logins ? logins.requestsPerSecond.toFixed(2) : "",
        isClean(run) && (!logins || isClean(logins)) ? "yes" : "NO",
      ]),
      ["left", "right", "right", "right", "right", "left"],
    ),
    renderTable(
      ["figure", "value", "target"],
      [
        ["req/s storm ÷ solo", storm.ratio.toFixed(3), target("c", "/hello req/s storm ÷ solo")],
        [
          "p99 during storm",
          `${ms(storm.storm.latencyMs.p99)} ms`,
          target("c", "/hello p99 during storm"),
        ],
      ],
      ["left", "right", "left"],
    ),
    "",
  );

  out.push(
    "(d) Micro-benchmarks: deno bench --json tests/bench/micro_bench.ts",
    renderTable(
      ["group", "benchmark", "avg/op", "p99", "ops/s"],
      report.micro.map((m) => [
        m.group ?? "",
        m.error ? `${m.name} (FAILED)` : m.name,
        duration(m.avgNs),
        duration(m.p99Ns),
        integer(1e9 / m.avgNs),
      ]),
      ["left", "left", "right", "right", "right"],
    ),
    "",
  );

  out.push(
    `(e) Start-up (warm cache; poll GET /hello every ${startup.pollIntervalMs} ms for 401) and ` +
      "memory of our server",
    renderTable(
      ["figure", "value", "detail", "target"],
      [
        [
          "spawn to first HTTPS answer",
          `${startup.medianMs.toFixed(0)} ms`,
          `median of ${startup.samples.map((s) => s.firstResponseMs.toFixed(0)).join(", ")}; ` +
          `max ${startup.maxMs.toFixed(0)}; first start ${startup.warmupMs.toFixed(0)}`,
          target("e", "spawn to first response (median)"),
        ],
        ["RSS idle", mib(memory.idleMiB), "after start-up, before load", ""],
        [
          "RSS peak under load (a)",
          mib(memory.loadPeakMiB),
          "sampled every 250 ms",
          target("e", "RSS peak under load (a)"),
        ],
        ["RSS at end of load (a)", mib(memory.loadEndMiB), "", ""],
        ["RSS peak under (b) and (c)", mib(memory.loginPeakMiB), "sampled every 250 ms", ""],
      ],
      ["left", "right", "left", "left"],
    ),
    "",
  );

  out.push(...renderFlood(report.flood, target), "", ...renderSlow(report.slow, target), "");
  out.push(renderTokenLoad(report.tokens), "", renderEndpointLatency(report.endpoints), "");
  out.push(renderDpopLoad(report.dpop), "");

  const passed = report.targets.filter((t) => t.pass).length;
  out.push(
    `Targets: ${passed} of ${report.targets.length} met`,
    renderTable(
      ["part", "figure", "value", "target", ""],
      report.targets.map((t) => [
        `(${t.part})`,
        t.label,
        `${t.value.toFixed(t.unit ? 1 : 3)}${unit(t)}`,
        `${symbol(t)} ${t.threshold}${unit(t)}`,
        verdict(t),
      ]),
      ["left", "left", "right", "left", "left"],
    ),
  );
  if (report.warnings.length) {
    out.push("", "Warnings:", ...report.warnings.map((w) => `  - ${w}`));
  }
  return out.join("\n");
}

function renderFlood(
  flood: FloodResult,
  target: (part: string, label: string) => string,
): string[] {
  const kinds = [
    "valid",
    "forged",
    "forged-unbudgeted",
    "valid-proxied",
    "forged-proxied",
  ] as const;
  const labels: Record<(typeof kinds)[number], string> = {
    "valid": "valid tokens",
    "forged": "forged (flipped signature bit)",
    "forged-unbudgeted": "forged, budget off",
    "valid-proxied": "valid, behind a trusted proxy",
    "forged-proxied": "forged, behind a trusted proxy",
  };
  return [
    `(f) GET /hello for a legitimate client (wrk -c${flood.legitConnections}, token used ` +
    `before) during a flood of wrk -c${flood.floodConnections} from the same address, ` +
    `${flood.durationSeconds} s x ${flood.rounds} round(s)`,
    renderTable(
      ["flood", "legit req/s", "legit p99 ms", "flood req/s", "per round (legit)"],
      kinds.map((kind) => {
        const runs = flood.runs.filter((run) => run.kind === kind);
        return [
          labels[kind],
          integer(flood.legitRequestsPerSecond[kind]),
          ms(Math.max(...runs.map((run) => run.legit.latencyMs.p99))),
          integer(flood.floodRequestsPerSecond[kind]),
          runs.map((run) => integer(run.legit.requestsPerSecond)).join(" / "),
        ];
      }),
      ["left", "right", "right", "right", "right"],
    ),
    renderTable(
      ["figure", "value", "target"],
      [
        [
          "legit req/s: forged flood ÷ valid flood",
          flood.ratio.toFixed(3),
          target("f", "/hello forged flood ÷ valid flood"),
        ],
        ["the same with the budget off", flood.unbudgetedRatio.toFixed(3), ""],
        [
          "the same behind a trusted proxy, two forwarded addresses",
          flood.proxiedRatio.toFixed(3),
          target("f", "/hello forged ÷ valid flood behind a trusted proxy"),
        ],
        ["answers as expected (200 / 401-429)", flood.clean ? "yes" : "NO", ""],
      ],
      ["left", "right", "left"],
    ),
  ];
}

function renderSlow(
  slow: SlowResult,
  target: (part: string, label: string) => string,
): string[] {
  const setups = [slow.haproxy, slow.direct].filter((s): s is SlowSetup => s !== undefined);
  const seconds = (value: number) => Number.isFinite(value) ? `${value.toFixed(1)} s` : "never";
  return [
    `(g) ${slow.connections} slow connections (${slow.kinds.join(", ")}; ` +
    `${slow.perAddress} per source address) while a new client logs in and calls /hello`,
    ...(slow.skipped ? [`HAProxy part skipped: ${slow.skipped}`] : []),
    renderTable(
      [
        "setup",
        "open at start",
        "login + /hello (median)",
        "samples ms",
        ...slow.kinds.map((kind) => `${kind} closed after`),
        "open at end",
      ],
      setups.map((setup) => [
        setup.name === "haproxy" ? "HAProxy, README's configuration" : "our server alone",
        String(setup.openAtStart),
        `${setup.loginHelloMedianMs.toFixed(0)} ms`,
        setup.loginHelloMs.map((value) => value.toFixed(0)).join(" / "),
        ...slow.kinds.map((kind) => seconds(setup.maxOpenSecondsByKind[kind])),
        `${setup.openAtEnd} after ${setup.observedSeconds.toFixed(0)} s`,
      ]),
      ["left", "right", "right", "right", ...slow.kinds.map(() => "right" as const), "right"],
    ),
    ...(slow.haproxy
      ? [
        `slowest close behind HAProxy: ${seconds(slowestClose(slow.haproxy))}  ` +
        target("g", "slow connections closed behind HAProxy"),
      ]
      : []),
    ...(slow.proxyCost
      ? [
        `GET /hello, wrk -c${slow.proxyCost.connections} ${slow.proxyCost.durationSeconds} s: ` +
        `through HAProxy ${integer(slow.proxyCost.proxied.requestsPerSecond)} req/s ` +
        `(p99 ${ms(slow.proxyCost.proxied.latencyMs.p99)} ms), straight ` +
        `${integer(slow.proxyCost.direct.requestsPerSecond)} req/s ` +
        `(p99 ${ms(slow.proxyCost.direct.latencyMs.p99)} ms): ratio ` +
        slow.proxyCost.ratio.toFixed(3),
      ]
      : []),
  ];
}

function latency(run: WrkResult): string {
  return `p50 ${ms(run.latencyMs.p50)} ms, p99 ${ms(run.latencyMs.p99)} ms`;
}

function symbol(t: TargetCheck): string {
  return t.comparison === ">=" ? "≥" : t.comparison === "<=" ? "≤" : "<";
}

function unit(t: TargetCheck): string {
  return t.unit ? ` ${t.unit}` : "";
}

function integer(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "-";
}

function ms(value: number): string {
  return value.toFixed(2);
}

function mib(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} MiB` : "-";
}

function duration(ns: number): string {
  if (!Number.isFinite(ns)) return "-";
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}
