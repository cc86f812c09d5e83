/**
 * @module
 * Prometheus metrics, recorded with the OpenTelemetry metrics SDK and written in the Prometheus
 * text exposition format by its Prometheus serializer: HTTP requests by route, method and status
 * with duration histograms, requests in flight, store operation latency and errors, the security
 * counters the services report, and the process's memory and event-loop lag (open connections and
 * file descriptors are not visible to a Deno process without `--allow-all`). It only records;
 * `metrics_listener.ts` serves them. prom-client, the usual library, is not used: its dependency
 * `bintrees` makes `deno compile` overflow its stack.
 */
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { Attributes, Counter, Histogram } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import type { RequestObserver } from "./http/edge.ts";
import type { Store } from "./store/store.ts";

/** The outcome of a password login. */
export type LoginOutcome = "success" | "invalid" | "throttled";

/** Latency buckets of HTTP requests, in seconds. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Latency buckets of store operations, in seconds. */
const STORE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
/** Event-loop lag buckets, in seconds. */
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** How often the event-loop lag is sampled. */
const LAG_PROBE_INTERVAL_MS = 500;

/** Every metric of the service, on its own meter provider. */
export class Metrics {
  readonly #reader = new PrometheusExporter({ preventServerStart: true });
  // No target_info series and no otel_scope_* labels: plain Prometheus names and labels.
  readonly #serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  readonly #provider = new MeterProvider({ readers: [this.#reader] });
  readonly #meter = this.#provider.getMeter("auth-api");
  readonly #requests = this.#counter("http_requests", "HTTP requests answered");
  readonly #duration = this.#histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to its answer",
    REQUEST_BUCKETS,
  );
  readonly #storeDuration = this.#histogram(
    "store_operation_duration_seconds",
    "Latency of store operations",
    STORE_BUCKETS,
  );
  readonly #storeErrors = this.#counter("store_errors", "Store operations that failed");
  #inFlight = 0;
  readonly #stopLagProbe: () => void;
  /** Password logins by `outcome`. */
  readonly logins: Counter = this.#counter("auth_logins", "Password logins by outcome");
  /** Times an account, address or device entered throttling, by `reason`. */
  readonly throttleEntries: Counter = this.#counter(
    "auth_throttle_entries",
    "Times an account, a client address or a device entered throttling",
  );
  /** Refresh-token exchanges by `outcome`, reuse detections included. */
  readonly refreshes: Counter = this.#counter(
    "auth_refreshes",
    "Refresh-token exchanges by outcome",
  );

  constructor() {
    this.#gauge("http_requests_in_flight", "Requests being handled now", () => this.#inFlight);
    this.#gauge(
      "process_resident_memory_bytes",
      "Resident memory size",
      () => Deno.memoryUsage().rss,
    );
    this.#gauge("deno_heap_used_bytes", "V8 heap in use", () => Deno.memoryUsage().heapUsed);
    this.#gauge("deno_heap_size_bytes", "V8 heap reserved", () => Deno.memoryUsage().heapTotal);
    const started = Date.now() / 1000;
    this.#gauge("process_start_time_seconds", "Start time since the Unix epoch", () => started);
    const lag = this.#histogram(
      "eventloop_lag_seconds",
      `How late a timer due every ${LAG_PROBE_INTERVAL_MS} ms fired`,
      LAG_BUCKETS,
    );
    this.#stopLagProbe = probeEventLoopLag((seconds) => lag.record(seconds));
  }

  /** The edge's hook: counts and times every request. */
  get requestObserver(): RequestObserver {
    return {
      started: () => this.#inFlight++,
      finished: (route = "unmatched", method, status, seconds) => {
        this.#inFlight--;
        this.#requests.add(1, { route, method, status: String(status) });
        this.#duration.record(seconds, { route });
      },
    };
  }

  /**
   * Reports the token service's verification outcomes and cache hits, read at each scrape: the
   * service keeps plain counts, so a token check pays no metrics call.
   */
  observeTokens(tokens: { outcomes: ReadonlyMap<string, number>; cacheHits: number }): void {
    this.#meter.createObservableCounter("auth_token_verifications", {
      description: "Access-token verifications by outcome (valid, or why a token was refused)",
    }).addCallback((result) => {
      for (const [outcome, count] of tokens.outcomes) result.observe(count, { outcome });
    });
    this.#meter.createObservableCounter("auth_token_cache_hits", {
      description: "Access-token verifications answered from the cache of verified tokens",
    }).addCallback((result) => result.observe(tokens.cacheHits));
  }

  /** Reports whether the store answered its last health ping, read at each scrape. */
  observeStoreHealth(health: { state: string }): void {
    this.#gauge(
      "store_available",
      "Whether the store answered its last health ping (1) or not (0)",
      () => health.state === "ok" ? 1 : 0,
    );
  }

  /** The text exposition format. */
  async render(): Promise<string> {
    const { resourceMetrics } = await this.#reader.collect();
    return this.#serializer.serialize(resourceMetrics);
  }

  /** The exposition's content type. */
  get contentType(): string {
    return "text/plain; version=0.0.4; charset=utf-8";
  }

  /** Wraps `store` so that every operation's latency and failures are recorded. */
  measureStore<T extends Store>(store: T): T {
    return new Proxy(store, {
      get: (target, name, receiver) => {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function" || typeof name !== "string") return value;
        return (...args: unknown[]) => {
          const started = performance.now();
          const operation: Attributes = { operation: name };
          const done = () =>
            this.#storeDuration.record((performance.now() - started) / 1000, operation);
          return (value.apply(target, args) as Promise<unknown>).then(
            (answer) => {
              done();
              return answer;
            },
            (error) => {
              done();
              this.#storeErrors.add(1, operation);
              throw error;
            },
          );
        };
      },
    });
  }

  /** Stops the background probe and the meter provider. */
  async close(): Promise<void> {
    this.#stopLagProbe();
    await this.#provider.shutdown();
  }

  #counter(name: string, description: string): Counter {
    return this.#meter.createCounter(name, { description });
  }

  #histogram(name: string, description: string, buckets: number[]): Histogram {
    return this.#meter.createHistogram(name, {
      description,
      advice: { explicitBucketBoundaries: buckets },
    });
  }

  #gauge(name: string, description: string, read: () => number): void {
    this.#meter.createObservableGauge(name, { description })
      .addCallback((result) => result.observe(read()));
  }
}

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
