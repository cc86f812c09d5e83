/**
 * @module
 * Prometheus metrics (on `prom-client`, the exposition format's usual library): HTTP requests by
 * route, method and status with duration histograms, requests in flight, store operation latency
 * and errors, the security counters the services report, and the process's own memory, file
 * descriptors and event-loop lag. It only records; `metrics_listener.ts` serves them. Every name
 * passes `promtool check metrics`, which is why prom-client's default collectors (some gauges
 * named `…_total`) are not used.
 */
import client from "prom-client";
import type { RequestObserver } from "./http/edge.ts";
import type { Store } from "./store/store.ts";

/** The outcome of a password login. */
export type LoginOutcome = "success" | "invalid" | "throttled";

/** Every metric of the service, on its own registry. */
export class Metrics {
  /** The registry the exposition is rendered from. */
  readonly registry: client.Registry = new client.Registry();
  readonly #requests = this.#counter("http_requests_total", "HTTP requests answered", [
    "route",
    "method",
    "status",
  ]);
  readonly #duration = new client.Histogram({
    name: "http_request_duration_seconds",
    help: "Time from a request's arrival to its answer",
    labelNames: ["route"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  #inFlight = 0;
  readonly #storeDuration = new client.Histogram({
    name: "store_operation_duration_seconds",
    help: "Latency of store operations",
    labelNames: ["operation"],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly #storeErrors = this.#counter("store_errors_total", "Store operations that failed", [
    "operation",
  ]);
  /** Password logins by outcome. */
  readonly logins = this.#counter("auth_logins_total", "Password logins by outcome", ["outcome"]);
  /** Failures that put an account or an address into a wait. */
  readonly throttleEntries = this.#counter(
    "auth_throttle_entries_total",
    "Times an account or a client address entered throttling",
    ["reason"],
  );
  /** Access-token checks by outcome (`valid` or the reason for refusing). */
  readonly tokenVerifications = this.#counter(
    "auth_token_verifications_total",
    "Access-token verifications by outcome",
    ["outcome"],
  );
  /** Access-token checks answered from the cache of verified tokens. */
  readonly tokenCacheHits = this.#counter(
    "auth_token_cache_hits_total",
    "Access-token verifications answered from the cache",
    [],
  );
  /** Refresh-token exchanges by outcome, reuse detections included. */
  readonly refreshes = this.#counter("auth_refreshes_total", "Refresh-token exchanges by outcome", [
    "outcome",
  ]);

  readonly #stopLagProbe: () => void;

  constructor() {
    this.#gauge(
      "process_resident_memory_bytes",
      "Resident memory size",
      () => Deno.memoryUsage().rss,
    );
    this.#gauge("deno_heap_used_bytes", "V8 heap in use", () => Deno.memoryUsage().heapUsed);
    this.#gauge("deno_heap_size_bytes", "V8 heap reserved", () => Deno.memoryUsage().heapTotal);
    this.#gauge("process_open_fds", "Open file descriptors (connections among them)", openFds);
    const started = Date.now() / 1000;
    this.#gauge("process_start_time_seconds", "Start time since the Unix epoch", () => started);
    const lag = new client.Histogram({
      name: "eventloop_lag_seconds",
      help: `How late a timer due every ${LAG_PROBE_INTERVAL_MS} ms fired`,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [this.registry],
    });
    this.#stopLagProbe = probeEventLoopLag((seconds) => lag.observe(seconds));
  }

  /** Stops the background probe. */
  close(): void {
    this.#stopLagProbe();
  }

  /**
   * The edge's hook: counts and times every request. Label children are looked up once per
   * route, method and status and kept, since prom-client hashes label sets on every call.
   */
  get requestObserver(): RequestObserver {
    const counters = new Map<string, client.Counter.Internal>();
    const timers = new Map<string, client.Histogram.Internal<"route">>();
    return {
      started: () => this.#inFlight++,
      finished: (route = "unmatched", method, status, seconds) => {
        this.#inFlight--;
        const key = `${route} ${method} ${status}`;
        let counter = counters.get(key);
        if (!counter) {
          counter = this.#requests.labels(route, method, String(status));
          counters.set(key, counter);
        }
        counter.inc();
        let timer = timers.get(route);
        if (!timer) {
          timer = this.#duration.labels(route);
          timers.set(route, timer);
        }
        timer.observe(seconds);
      },
    };
  }

  /** The text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Wraps `store` so that every operation's latency and failures are recorded. */
  measureStore<T extends Store>(store: T): T {
    return new Proxy(store, {
      get: (target, name, receiver) => {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function" || typeof name !== "string") return value;
        return (...args: unknown[]) => {
          const end = this.#storeDuration.startTimer({ operation: name });
          const result = value.apply(target, args) as Promise<unknown>;
          return result.then(
            (answer) => {
              end();
              return answer;
            },
            (error) => {
              end();
              this.#storeErrors.inc({ operation: name });
              throw error;
            },
          );
        };
      },
    });
  }

  #gauge(name: string, help: string, read: () => number): void {
    new client.Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  #counter<L extends string>(name: string, help: string, labelNames: L[]): client.Counter<L> {
    return new client.Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

/** How often the event-loop lag is sampled. */
const LAG_PROBE_INTERVAL_MS = 500;

/** Reports every {@linkcode LAG_PROBE_INTERVAL_MS} how late the previous tick fired. */
function probeEventLoopLag(report: (seconds: number) => void): () => void {
  let expected = performance.now() + LAG_PROBE_INTERVAL_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    report(Math.max(0, now - expected) / 1000);
    expected = now + LAG_PROBE_INTERVAL_MS;
  }, LAG_PROBE_INTERVAL_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** The number of open file descriptors, where /proc tells it; 0 elsewhere. */
function openFds(): number {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch {
    return 0;
  }
}
