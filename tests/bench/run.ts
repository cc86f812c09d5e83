/**
 * @module
 * The benchmark suite: `deno task bench [--quick] [--rounds N] [--out PATH]`.
 *
 * In one run it measures (a) GET /hello under wrk load against three bare `Deno.serve` ceilings,
 * (b) POST /login against the password-hash ceiling, (c) GET /hello during a login storm,
 * (d) micro-benchmarks through `deno bench`, (e) start-up time and memory, (f) GET /hello
 * during floods of forged and of valid tokens, (g) a new client's login while 1,000 slow
 * connections are held open, behind HAProxy and against the server alone, and (h) GET /hello with
 * metrics on (METRICS_PORT) against the same server without, alternating in part (a)'s rounds, and
 * (i) client_credentials grants per second against panva's oidc-provider, and (j) each endpoint's
 * p50 and p99 latency on one kept-alive connection, and (k) GET /hello with DPoP proofs (ES256,
 * EdDSA) against Bearer tokens. It prints a table
 * and writes the same figures as JSON. Targets are printed as PASS or MISS, never asserted.
 *
 * Everything it starts is stopped in `finally`, and the whole run is bounded in time.
 */
import { decodeJwt } from "jose";
import { dirname, resolve } from "node:path";
import { MIN_PBKDF2_ITERATIONS } from "../../src/auth/accounts/passwords.ts";
import { runProgram } from "../../src/usage.ts";
import { freePort, type ServerProcess } from "../helpers/process.ts";
import {
  createFixture,
  type Fixture,
  HELLO_BODY,
  login,
  REPO_ROOT,
  startBareServer,
  startOurServer,
} from "./fixture.ts";
import { measureHashCeiling } from "./hash_ceiling.ts";
import { fetchHello, type HelloAnswer, type HelloTarget, measureHelloLoad } from "./hello_load.ts";
import { startHelloPeers } from "./hello_peers.ts";
import { type LoginLoad, measureLoginLoad } from "./login_load.ts";
import { measureFlood } from "./flood.ts";
import { describeMachine } from "./machine.ts";
import { readRssMiB, sampleMemory } from "./memory.ts";
import { runMicroBenchmarks } from "./micro.ts";
import { type BenchOptions, parseBenchArgs } from "./options.ts";
import { waitForStatus } from "./poll.ts";
import { type BenchReport, evaluateTargets, renderReport } from "./report.ts";
import { measureSlowClients } from "./slow.ts";
import { measureStartup } from "./startup.ts";
import { measureStorm, type StormResult } from "./storm.ts";
import { measureTokenLoad } from "./token_load.ts";
import { measureDpopLoad } from "./dpop_load.ts";
import { measureEndpointLatency } from "./endpoint_latency.ts";
import { describeErrors, type WrkResult, wrkVersion } from "./wrk.ts";
import { sleep } from "../helpers/wait.ts";

const DEFAULT_OUT = resolve(REPO_ROOT, "tests/bench/results.json");
const STARTUP_SAMPLES = 3;
/** How long our server sits idle after its first answer before its idle memory is read. */
const IDLE_SETTLE_MS = 1000;
/** Part (g): slow connections opened, and at most how many share one source address. */
const SLOW_CONNECTIONS = 1000;
const SLOW_PER_ADDRESS = 50;
/** Part (i): wrk connections asking for grants. */
const TOKEN_CONNECTIONS = 16;
/** An invalid-token budget too high to matter, for the (f) run without it. */
const NO_BUDGET = "1000000000";

async function main(args: string[]): Promise<number> {
  // Wrong arguments throw a UsageError: runProgram prints its error and usage lines, exit 2.
  const options = parseBenchArgs(args, DEFAULT_OUT);
  if (options.help !== undefined) {
    console.log(options.help);
    return 0;
  }
  const wrk = await wrkVersion();
  if (!wrk) {
    console.error("Error: wrk is not installed; install it with: sudo apt-get install wrk");
    return 1;
  }

  const boundSeconds = timeBoundSeconds(options);
  const abort = new AbortController();
  const watchdog = setTimeout(
    () => abort.abort(new Error(`Benchmark exceeded its time bound of ${boundSeconds} s`)),
    boundSeconds * 1000,
  );
  const interrupt = () => abort.abort(new Error("Interrupted"));
  // A stray rejection would end the process before `finally` stops the servers: abort instead.
  const unhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    abort.abort(event.reason);
  };
  Deno.addSignalListener("SIGINT", interrupt);
  Deno.addSignalListener("SIGTERM", interrupt);
  globalThis.addEventListener("unhandledrejection", unhandled);
  try {
    const report = await benchmark(options, wrk, abort.signal);
    console.log(renderReport(report));
    await Deno.mkdir(dirname(options.out), { recursive: true });
    await Deno.writeTextFile(options.out, JSON.stringify(report, null, 2) + "\n");
    console.log(`\nJSON results: ${options.out}`);
    return 0;
  } catch (error) {
    const reason = abort.signal.aborted ? abort.signal.reason : error;
    console.error(`Error: ${reason instanceof Error ? reason.message : String(reason)}`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    Deno.removeSignalListener("SIGINT", interrupt);
    Deno.removeSignalListener("SIGTERM", interrupt);
    globalThis.removeEventListener("unhandledrejection", unhandled);
  }
}

/** Runs every part; all processes and files it makes are gone when it returns or throws. */
async function benchmark(
  options: BenchOptions,
  wrk: string,
  signal: AbortSignal,
): Promise<BenchReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const machine = describeMachine(wrk);
  await using cleanup = new AsyncDisposableStack();

  progress("setting up: certificate, database, user (600000 iterations)");
  const fixture = cleanup.use(await createFixture());

  progress("(d) micro-benchmarks: deno bench --json tests/bench/micro_bench.ts");
  const micro = await runMicroBenchmarks(REPO_ROOT, { signal });

  progress("(b) timing password hashes for the ceiling");
  signal.throwIfAborted();
  const hashCeiling = await measureHashCeiling(MIN_PBKDF2_ITERATIONS);

  progress(`(e) start-up: ${STARTUP_SAMPLES + 1} starts of our server`);
  signal.throwIfAborted();
  const startup = await measureStartup(fixture, {
    samples: STARTUP_SAMPLES,
    logLevel: options.logLevel,
    signal,
  });

  progress("starting our server and the three bare servers");
  const { server: ours, origin: knownOrigin } = startOurs(fixture, options, signal);
  cleanup.use(ours);
  const bareMinimal = cleanup.use(startBareServer("minimal", fixture, { signal }));
  const bareHeaders = cleanup.use(startBareServer("same-headers", fixture, { signal }));
  const bareWork = cleanup.use(startBareServer("same-work", fixture, { signal }));
  const [oursUrl, minimalUrl, headersUrl, workUrl] = await Promise.all([
    ready(ours, fixture, 401, signal, knownOrigin),
    ready(bareMinimal, fixture, 200, signal),
    ready(bareHeaders, fixture, 200, signal),
    ready(bareWork, fixture, 200, signal),
  ]);
  await sleep(IDLE_SETTLE_MS, signal);
  const idleMiB = await readRssMiB(ours.pid) ?? NaN;
  const token = () => login(oursUrl, fixture);

  const firstToken = await token();
  // (h) The same server with metrics on, naming itself as ours does, so that one token serves both.
  progress("(h) starting a second server of ours with metrics on");
  const { iss, aud } = decodeJwt(firstToken);
  const metered = startOurs(fixture, options, signal, {
    METRICS_PORT: "0",
    JWT_ISSUER: String(iss),
    JWT_AUDIENCE: String(aud),
  });
  cleanup.use(metered.server);
  const meteredUrl = await ready(metered.server, fixture, 401, signal, metered.origin);
  progress("(a) starting the framework peers: Hono, Fastify with and without its verify cache");
  const peers = await startHelloPeers(fixture, {
    oursUrl,
    token: firstToken,
    stack: cleanup,
    signal,
  });
  const peerAnswers = Object.fromEntries(
    await Promise.all(
      peers.targets.map(async (peer) =>
        [peer.name, await fetchHello(peer.url, firstToken, fixture.client)] as const
      ),
    ),
  );
  const answers: Record<string, HelloAnswer> = {
    ...peerAnswers,
    "ours": await fetchHello(oursUrl, firstToken, fixture.client),
    "ours-metrics": await fetchHello(meteredUrl, firstToken, fixture.client),
    "bare-minimal": await fetchHello(minimalUrl, firstToken, fixture.client),
    "bare-same-headers": await fetchHello(headersUrl, firstToken, fixture.client),
    "bare-same-work": await fetchHello(workUrl, firstToken, fixture.client),
  };

  const targets: HelloTarget[] = [
    { name: "ours", url: oursUrl, pid: ours.pid },
    { name: "ours-metrics", url: meteredUrl },
    { name: "bare-minimal", url: minimalUrl },
    { name: "bare-same-headers", url: headersUrl },
    { name: "bare-same-work", url: workUrl },
    ...peers.targets,
  ];
  const hello = await measureHelloLoad(targets, {
    rounds: options.rounds,
    connections: options.helloConnections,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    token,
    progress,
    signal,
  });

  await metered.server.stop();

  progress("(j) each endpoint's latency on one kept-alive connection");
  const endpoints = await measureEndpointLatency(oursUrl, fixture, {
    samples: options.quick ? 20 : 50,
    signal,
  });

  progress(`(b) POST /login, ${options.durationSeconds} s`);
  const loginSampler = sampleMemory(ours.pid);
  let loginLoad: LoginLoad;
  let storm: StormResult;
  let loginPeakMiB: number;
  try {
    loginLoad = await measureLoginLoad(oursUrl, {
      connections: options.loginConnections,
      durationSeconds: options.durationSeconds,
      script: fixture.loginScript,
      ceiling: hashCeiling,
      loginAfter: () => token().then(() => true, () => false),
      signal,
    });
    storm = await measureStorm(oursUrl, {
      helloConnections: options.helloConnections,
      loginConnections: options.loginConnections,
      durationSeconds: options.durationSeconds,
      loginScript: fixture.loginScript,
      token,
      progress,
      signal,
    });
  } finally {
    loginPeakMiB = (await loginSampler.stop()).maxMiB;
  }

  progress("(f) starting a second server of ours with the invalid-token budget off");
  const unbudgeted = startOurs(fixture, options, signal, {
    INVALID_TOKEN_BUDGET_PER_MINUTE: NO_BUDGET,
  });
  cleanup.use(unbudgeted.server);
  const unbudgetedUrl = await ready(unbudgeted.server, fixture, 401, signal, unbudgeted.origin);
  progress("(f) starting a third server of ours behind a trusted proxy (TRUSTED_PROXIES)");
  const proxiedServer = startOurs(fixture, options, signal, {
    TRUSTED_PROXIES: "127.0.0.1,::1",
  });
  cleanup.use(proxiedServer.server);
  const proxiedUrl = await ready(proxiedServer.server, fixture, 401, signal, proxiedServer.origin);
  const flood = await measureFlood({
    budgeted: { url: oursUrl, token },
    unbudgeted: { url: unbudgetedUrl, token: () => login(unbudgetedUrl, fixture) },
    proxied: { url: proxiedUrl, token: () => login(proxiedUrl, fixture) },
    legitConnections: Math.max(1, options.helloConnections / 2),
    floodConnections: Math.max(1, options.helloConnections / 2),
    durationSeconds: options.durationSeconds,
    rounds: options.rounds,
    progress,
    signal,
  });
  await unbudgeted.server.stop();
  await proxiedServer.server.stop();

  signal.throwIfAborted();
  const slow = await measureSlowClients({
    url: oursUrl,
    fixture,
    connections: SLOW_CONNECTIONS,
    perAddress: SLOW_PER_ADDRESS,
    proxyDeadlineSeconds: 60,
    directObserveSeconds: options.quick ? 12 : 35,
    samples: 5,
    wrkConnections: options.helloConnections,
    wrkSeconds: options.durationSeconds,
    progress,
    signal,
  });

  progress("(i) client_credentials grants: ours and oidc-provider");
  const tokens = await measureTokenLoad(fixture, {
    rounds: options.rounds,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    connections: TOKEN_CONNECTIONS,
    logLevel: options.logLevel,
    progress,
    signal,
  });

  progress("(k) GET /hello with DPoP proofs against Bearer");
  const dpop = await measureDpopLoad(fixture, {
    rounds: options.rounds,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    connections: options.helloConnections,
    logLevel: options.logLevel,
    progress,
    signal,
  });

  const oursRuns = hello.runs.filter((run) => run.target === "ours");
  const memory = {
    idleMiB,
    loadPeakMiB: Math.max(...oursRuns.map((run) => run.rssMaxMiB ?? NaN)),
    loadEndMiB: oursRuns.at(-1)?.rssEndMiB ?? NaN,
    loginPeakMiB,
  };
  progress("stopping servers");
  const { help: _help, out: _out, ...settings } = options;
  const measured = { hello, login: loginLoad, storm, startup, memory, flood, slow };
  return {
    version: 1,
    startedAt,
    elapsedSeconds: (performance.now() - started) / 1000,
    options: settings,
    machine,
    answers,
    fastifyRuntime: peers.fastifyRuntime,
    hashCeiling,
    micro,
    ...measured,
    tokens,
    endpoints,
    dpop,
    targets: evaluateTargets({ ...measured, tokens }),
    warnings: [
      ...warnings({ ...measured, answers, micro, machine, options }),
      ...tokens.warnings,
      ...dpop.warnings,
    ],
  };
}

/**
 * Starts our server as the `serve` task does, on port 0; its URL comes from the Listening log
 * line, or, when the log level hides that line, the server gets a free port picked here.
 */
function startOurs(
  fixture: Fixture,
  options: BenchOptions,
  signal: AbortSignal,
  env: Record<string, string> = {},
): { server: ServerProcess; origin?: string } {
  const logsListening = options.logLevel === "debug" || options.logLevel === "info";
  const port = logsListening ? 0 : freePort();
  const server = startOurServer(fixture, { port, logLevel: options.logLevel, signal, env });
  return { server, origin: logsListening ? undefined : `https://127.0.0.1:${port}` };
}

/** Waits for the server's URL (unless known) and a first answer; returns its 127.0.0.1 origin. */
async function ready(
  server: ServerProcess,
  fixture: Fixture,
  status: number,
  signal: AbortSignal,
  knownOrigin?: string,
): Promise<string> {
  const origin = knownOrigin ?? loopbackUrl(await server.listening(30_000));
  await waitForStatus(`${origin}/hello`, {
    client: fixture.client,
    status,
    exited: server.exited,
    signal,
  });
  return origin;
}

/** Rewrites a URL's host to 127.0.0.1: `localhost` may resolve to ::1 first, which is not bound. */
function loopbackUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hostname = "127.0.0.1";
  return parsed.origin;
}

function warnings(
  report:
    & Pick<
      BenchReport,
      "hello" | "login" | "storm" | "answers" | "micro" | "machine" | "flood" | "slow"
    >
    & {
      options: BenchOptions;
    },
): string[] {
  const out: string[] = [];
  const expectedBody = JSON.stringify(HELLO_BODY);
  for (const [name, answer] of Object.entries(report.answers)) {
    if (answer.status !== 200 || answer.body !== expectedBody) {
      out.push(`${name} answered ${answer.status} ${answer.body}, not 200 ${expectedBody}`);
    }
  }
  const ours = report.answers["ours"].headerNames.join(", ");
  for (const bare of ["bare-same-headers", "bare-same-work"]) {
    const same = report.answers[bare].headerNames.join(", ");
    if (ours !== same) out.push(`${bare} sends [${same}] but ours sends [${ours}]`);
  }
  const runs: [string, WrkResult][] = [
    ...report.hello.runs.map((run): [string, WrkResult] => [
      `(a) ${run.target} round ${run.round}`,
      run.wrk,
    ]),
    ["(b) login load", report.login.wrk],
    ["(c) /hello solo", report.storm.solo],
    ["(c) /hello during the storm", report.storm.storm],
    ["(c) logins during the storm", report.storm.logins],
  ];
  for (const [name, run] of runs) {
    const errors = describeErrors(run);
    if (errors) out.push(`${name}: ${errors}`);
  }
  if (!report.login.acceptedAfterLoad) out.push("(b) a login after the load was refused");
  if (!report.flood.clean) {
    out.push("(f) some legitimate or valid-flood answers were not 200, or forged ones were");
  }
  if (report.slow.skipped) out.push(`(g) HAProxy part skipped: ${report.slow.skipped}`);
  for (const bench of report.micro) {
    if (bench.error) out.push(`(d) ${bench.name} failed: ${bench.error}`);
  }
  const [load1] = report.machine.loadAverage;
  if (load1 > report.machine.cores / 2) {
    out.push(`load average was ${load1} at start: other work may skew the figures`);
  }
  if (report.options.quick) out.push("quick run: short runs, one round; figures are rough");
  return out;
}

/** An upper bound for the whole run: twice the planned load time plus room for the rest. */
function timeBoundSeconds(options: BenchOptions): number {
  const tokenSeconds = 5 * (options.warmupSeconds + options.rounds * options.durationSeconds) + 30;
  const peerSeconds = 3 * (options.warmupSeconds + options.rounds * options.durationSeconds) +
    2 * options.rounds * options.durationSeconds;
  const loadSeconds = peerSeconds + 3 * options.warmupSeconds +
    6 * options.rounds * options.durationSeconds +
    3 * options.durationSeconds + 60 + 35 + tokenSeconds;
  // (k): three warm-ups and runs per round, and signing their proofs, which takes about as long.
  const dpopSeconds = 2 * 3 * (options.warmupSeconds + options.rounds * options.durationSeconds);
  return 2 * (loadSeconds + dpopSeconds) + 480;
}

function progress(message: string): void {
  console.error(`bench: ${message}`);
}

if (import.meta.main) await runProgram(() => main(Deno.args));
