/**
 * @module
 * Part (g): many slow connections held open, as an attacker would (connections that never finish
 * the TLS handshake or the request head), from many loopback source addresses; meanwhile a new
 * client logs in and calls /hello. Measured against HAProxy with the defaults of src/deploy/haproxy.cfg in
 * front of our server, and against our server alone; also what the proxy costs GET /hello.
 */
import { HAPROXY, startProxy } from "../helpers/haproxy.ts";
import { openSlowClients, type SlowKind } from "../helpers/slow_clients.ts";
import type { Fixture } from "./fixture.ts";
import { login } from "./fixture.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

/** The kinds of slow connection opened, in equal numbers. */
export const SLOW_BENCH_KINDS: readonly SlowKind[] = [
  "silent",
  "hello_trickle",
  "tls_silent",
  "header_trickle",
];

/** One setting measured: behind the proxy, or the server alone. */
export interface SlowSetup {
  name: "haproxy" | "direct";
  /** How many of the slow connections were open when the new client started. */
  openAtStart: number;
  /** Milliseconds of each sample of a new client's login + /hello, one after another. */
  loginHelloMs: number[];
  /** Median of {@linkcode loginHelloMs}. */
  loginHelloMedianMs: number;
  /** Seconds from opening until the last slow connection was closed by the server; NaN if not. */
  allClosedAfterSeconds: number;
  /** Slow connections still open when the observation ended. */
  openAtEnd: number;
  /** Seconds the connections were watched. */
  observedSeconds: number;
  /** Longest time a connection of each kind stayed open, seconds (NaN when one never closed). */
  maxOpenSecondsByKind: Record<string, number>;
}

/** GET /hello under wrk through the proxy and straight to our server, one after the other. */
export interface ProxyCost {
  connections: number;
  durationSeconds: number;
  direct: WrkResult;
  proxied: WrkResult;
  /** Proxied ÷ direct requests/s. */
  ratio: number;
}

/** Everything part (g) measured. */
export interface SlowResult {
  connections: number;
  perAddress: number;
  kinds: readonly SlowKind[];
  /** Absent when HAProxy is not installed. */
  haproxy?: SlowSetup;
  /** Absent when HAProxy is not installed. */
  proxyCost?: ProxyCost;
  direct: SlowSetup;
  /** Why the HAProxy setup was not measured. */
  skipped?: string;
}

/** Settings of part (g). */
export interface SlowOptions {
  /** Our server's origin, https://127.0.0.1:PORT. */
  url: string;
  fixture: Fixture;
  connections: number;
  /** Connections per source address: under the per-address cap of src/deploy/haproxy.cfg. */
  perAddress: number;
  /** How long to watch the connections behind the proxy before giving up, seconds. */
  proxyDeadlineSeconds: number;
  /** How long to watch them against the server alone, seconds. */
  directObserveSeconds: number;
  samples: number;
  /** wrk connections and seconds for the proxy's cost on GET /hello. */
  wrkConnections: number;
  wrkSeconds: number;
  progress?: (message: string) => void;
  signal?: AbortSignal;
}

/**
 * Measures part (g) behind HAProxy (when installed) and against the server alone.
 *
 * @example
 * ```ts
 * const slow = await measureSlowClients({ url, fixture, connections: 1000, perAddress: 50, proxyDeadlineSeconds: 60, directObserveSeconds: 35, samples: 5 });
 * ```
 */
export async function measureSlowClients(options: SlowOptions): Promise<SlowResult> {
  const { url, fixture, connections, perAddress } = options;
  const port = Number(new URL(url).port);
  let haproxy: SlowSetup | undefined;
  let proxyCost: ProxyCost | undefined;
  const haproxyMissing = HAPROXY.missing.length > 0
    ? "HAProxy is not installed (apt-get install haproxy)"
    : undefined;
  if (!haproxyMissing) {
    options.progress?.(
      `(g) ${connections} slow connections behind HAProxy (src/deploy/haproxy.cfg)`,
    );
    await using proxy = await startProxy({
      backendPort: port,
      backendCaPem: fixture.certPem,
      backendName: "localhost",
      certPem: fixture.certPem,
      keyPem: await Deno.readTextFile(fixture.keyPath),
    });
    options.progress?.(`(g) GET /hello through HAProxy and straight, ${options.wrkSeconds} s each`);
    const token = await login(url, fixture);
    const hello = (origin: string) =>
      runWrk(`${origin}/hello`, {
        connections: options.wrkConnections,
        durationSeconds: options.wrkSeconds,
        headers: { authorization: `Bearer ${token}` },
        signal: options.signal,
      });
    const direct = await hello(url);
    const proxied = await hello(`https://127.0.0.1:${proxy.port}`);
    proxyCost = {
      connections: options.wrkConnections,
      durationSeconds: options.wrkSeconds,
      direct,
      proxied,
      ratio: proxied.requestsPerSecond / direct.requestsPerSecond,
    };
    haproxy = await measureSetup("haproxy", proxy.port, {
      ...options,
      observeSeconds: options.proxyDeadlineSeconds,
    });
  }
  options.progress?.(
    `(g) ${connections} slow connections against our server alone, ` +
      `watched for ${options.directObserveSeconds} s`,
  );
  const direct = await measureSetup("direct", port, {
    ...options,
    observeSeconds: options.directObserveSeconds,
  });
  return {
    connections,
    perAddress,
    kinds: SLOW_BENCH_KINDS,
    haproxy,
    proxyCost,
    direct,
    skipped: haproxyMissing,
  };
}

async function measureSetup(
  name: SlowSetup["name"],
  port: number,
  options: SlowOptions & { observeSeconds: number },
): Promise<SlowSetup> {
  const { fixture, connections, perAddress, samples } = options;
  const started = performance.now();
  await using slow = await openSlowClients(
    { port, caPem: fixture.certPem, serverName: "localhost", trickleIntervalMs: 1000 },
    {
      kinds: SLOW_BENCH_KINDS,
      count: Math.ceil(connections / SLOW_BENCH_KINDS.length),
      perAddress,
    },
  );
  const openAtStart = slow.connections.length - slow.closedCount();
  const base = `https://localhost:${port}`;
  const loginHelloMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    // A new client each time: its own connection and TLS handshake.
    using client = Deno.createHttpClient({ caCerts: [fixture.certPem] });
    const t0 = performance.now();
    const token = await login(base, { ...fixture, client });
    const res = await fetch(`${base}/hello`, {
      client,
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`GET /hello answered ${res.status} (${name})`);
    loginHelloMs.push(performance.now() - t0);
  }
  const deadline = started + options.observeSeconds * 1000;
  while (slow.closedCount() < slow.connections.length && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const observedSeconds = (performance.now() - started) / 1000;
  const closedAt = slow.connections.map((c) => c.closedAt ?? NaN);
  const openAtEnd = closedAt.filter(Number.isNaN).length;
  const maxOpenSecondsByKind: Record<string, number> = {};
  for (const kind of SLOW_BENCH_KINDS) {
    const lifetimes = slow.connections.filter((c) => c.kind === kind)
      .map((c) => ((c.closedAt ?? NaN) - c.connectedAt) / 1000);
    maxOpenSecondsByKind[kind] = lifetimes.some(Number.isNaN) ? NaN : Math.max(...lifetimes);
  }
  const sorted = loginHelloMs.toSorted((a, b) => a - b);
  return {
    name,
    openAtStart,
    loginHelloMs,
    loginHelloMedianMs: sorted[Math.floor(sorted.length / 2)],
    allClosedAfterSeconds: openAtEnd ? NaN : (Math.max(...closedAt) - started) / 1000,
    openAtEnd,
    observedSeconds,
    maxOpenSecondsByKind,
  };
}
