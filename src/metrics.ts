/**
 * @module
 * Prometheus metrics, recorded with the OpenTelemetry metrics SDK and written in the Prometheus
 * text exposition format by its Prometheus serializer: HTTP requests by route, method and status
 * with duration histograms, requests in flight, store operation latency and errors, the security
 * counters the services report, build information, and the process's CPU time, memory and
 * event-loop lag (open connections and file descriptors are not visible to a Deno process without
 * `--allow-all`). The service's own series are named `auth_…`; the process's keep the names
 * Prometheus client libraries give them (`process_…`, and `deno_…` for the runtime's).
 *
 * Every label takes values from a set fixed in code, never from what a client sends: a method
 * outside the standard ones is `other`, a path that matches no route is `unmatched`. The known
 * values of each security counter and store error are created at 0 at start, so that
 * `increase()` sees the first event on an instance. It only records; `metrics_listener.ts`
 * serves them. prom-client, the usual library, is not used: its dependency `bintrees` makes
 * `deno compile` overflow its stack.
 */
import process from "node:process";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import type { Attributes, Counter, Histogram } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import type { RequestObserver } from "./http/edge.ts";
import type { Store } from "./store/store.ts";
import { VERSION } from "./version.ts";

/** The outcome of a password login. */
export type LoginOutcome = "success" | "invalid" | "throttled";

/** `auth_logins_total` outcomes, all present from the start. */
const LOGIN_OUTCOMES: readonly LoginOutcome[] = ["success", "invalid", "throttled"];
/** `auth_second_factor_events_total` events, all present from the start. */
const SECOND_FACTOR_EVENTS: readonly string[] = [
  "enrolled",
  "succeeded",
  "failed",
  "recovery_code_used",
  "recovery_codes_generated",
  "passkey_succeeded",
  "passkey_refused",
];
/** `auth_account_changes_total` changes a person makes on the account page. */
const ACCOUNT_CHANGES: readonly string[] = [
  "password_changed",
  "app_signed_out",
  "signed_out_everywhere",
  "device_forgotten",
  "passkey_registered",
  "passkey_renamed",
  "passkey_removed",
];
/** `auth_pushed_requests_total` outcomes: pushed authorization requests (RFC 9126). */
const PUSHED_REQUEST_OUTCOMES: readonly string[] = ["issued", "refused", "used", "expired"];
/** `auth_device_codes_total` events of the device flow (RFC 8628), all present from the start. */
const DEVICE_CODE_EVENTS: readonly string[] = [
  "issued",
  "refused",
  "approved",
  "denied",
  "expired",
];
/** `auth_user_codes_refused_total` reasons: a code that matched nothing, or the page's throttle. */
const USER_CODE_REFUSALS: readonly string[] = ["unknown", "throttled"];
/** `auth_throttle_entries_total` reasons: the budgets of the login throttle. */
const THROTTLE_REASONS: readonly string[] = ["account", "address", "device"];
/** `auth_refreshes_total` outcomes: rotations, and the refusals the audit trail records. */
const REFRESH_OUTCOMES: readonly string[] = [
  "rotated",
  "reuse_detected",
  "revoked",
  "client_mismatch",
  "client_removed",
];
/** `auth_dpop_proofs_refused_total` reasons: why a DPoP proof was refused, replays included. */
const DPOP_REFUSALS: readonly string[] = [
  "multiple",
  "malformed",
  "type",
  "algorithm",
  "private_key",
  "signature",
  "method",
  "url",
  "iat",
  "jti",
  "ath",
  "nonce",
  "missing",
  "key_mismatch",
  "replayed",
];
/** `auth_token_verifications_total` outcomes: valid, or why the token service refused a token. */
const TOKEN_OUTCOMES: readonly string[] = [
  "valid",
  "expired",
  "bad_signature",
  "malformed",
  "too_large",
  "unknown_key",
  "wrong_algorithm",
  "claims",
  "not_yet_valid",
  "revoked",
  "invalid",
  "throttled",
];
/** The request methods of RFC 9110 §9 and RFC 5789; any other is counted as `other`. */
const STANDARD_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "CONNECT",
  "TRACE",
]);
/** The `route` of a request whose path matches no route. */
const UNMATCHED_ROUTE = "unmatched";

/** Latency buckets of HTTP requests, in seconds. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Latency buckets of store operations, in seconds. */
const STORE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
/** Event-loop lag buckets, in seconds. */
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** How often the event-loop lag is sampled. */
const LAG_PROBE_INTERVAL_MS = 500;
/** The longest standard method, so that a long one is refused before it is hashed. */
const LONGEST_METHOD = 7;
/** The `method` label of every method outside {@linkcode STANDARD_METHODS}. */
const OTHER_METHOD = "other";

/** The `method` label of a request method: itself when standard, else `other`. */
function methodLabel(method: string): string {
  return method.length <= LONGEST_METHOD && STANDARD_METHODS.has(method) ? method : OTHER_METHOD;
}

/** One route's requests: answers by method label and status, and its histogram attributes. */
interface RouteCounts {
  attributes: Attributes;
  byMethod: Map<string, Map<number, number>>;
}

/** Every metric of the service, on its own meter provider. */
export class Metrics {
  readonly #reader = new PrometheusExporter({ preventServerStart: true });
  // No target_info series and no otel_scope_* labels: plain Prometheus names and labels.
  readonly #serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  readonly #provider = new MeterProvider({ readers: [this.#reader] });
  readonly #meter = this.#provider.getMeter("auth-api");
  /**
   * Requests answered, by route, method and status, with each route's histogram attributes:
   * plain maps on the hot path, read at each scrape, cost less than a labelled counter's
   * attribute hashing on every request.
   */
  readonly #routes = new Map<string, RouteCounts>();
  readonly #duration = this.#histogram(
    "auth_http_request_duration_seconds",
    "Time from a request's arrival to its answer",
    REQUEST_BUCKETS,
  );
  readonly #storeDuration = this.#histogram(
    "auth_store_operation_duration_seconds",
    "Latency of store operations",
    STORE_BUCKETS,
  );
  readonly #storeErrors = this.#counter("auth_store_errors", "Store operations that failed");
  #inFlight = 0;
  readonly #stopLagProbe: () => void;
  /** Password logins by `outcome`. */
  readonly logins: Counter = this.#counter("auth_logins", "Password logins by outcome");
  /** Second-factor set-ups and checks, by `event`. */
  readonly secondFactor = this.#counter("auth_second_factor_events", "Second-factor events");
  /** Account changes by `change`. */
  readonly accountChanges = this.#counter("auth_account_changes", "Changes to own accounts");
  /** Times an account, address or device entered throttling, by `reason`. */
  readonly throttleEntries = this.#counter("auth_throttle_entries", "Budgets entering a wait");
  /** Refresh-token exchanges by `outcome`, reuse detections included. */
  readonly refreshes = this.#counter("auth_refreshes", "Refresh-token exchanges by outcome");
  /** Pushed authorization requests by `outcome`: issued, refused, used, expired. */
  readonly pushedRequests = this.#counter(
    "auth_pushed_requests",
    "Pushed authorization requests by outcome",
  );
  /** Device authorizations issued, approved, denied and expired, by `event`. */
  readonly deviceCodes = this.#counter("auth_device_codes", "Device authorizations by event");
  /** User codes refused on the device page, by `reason`. */
  readonly userCodesRefused = this.#counter("auth_user_codes_refused", "User codes refused");
  /** DPoP proofs refused, by `reason` (`replayed` for a `jti` seen before). */
  readonly dpopRefusals = this.#counter("auth_dpop_proofs_refused", "DPoP proofs refused");

  constructor() {
    for (const outcome of LOGIN_OUTCOMES) this.logins.add(0, { outcome });
    for (const reason of THROTTLE_REASONS) this.throttleEntries.add(0, { reason });
    for (const outcome of REFRESH_OUTCOMES) this.refreshes.add(0, { outcome });
    for (const event of SECOND_FACTOR_EVENTS) this.secondFactor.add(0, { event });
    for (const change of ACCOUNT_CHANGES) this.accountChanges.add(0, { change });
    for (const outcome of PUSHED_REQUEST_OUTCOMES) this.pushedRequests.add(0, { outcome });
    for (const event of DEVICE_CODE_EVENTS) this.deviceCodes.add(0, { event });
    for (const reason of USER_CODE_REFUSALS) this.userCodesRefused.add(0, { reason });
    for (const reason of DPOP_REFUSALS) this.dpopRefusals.add(0, { reason });
    this.#meter.createObservableCounter("auth_http_requests", {
      description: "HTTP requests answered",
    }).addCallback((result) => {
      for (const [route, { byMethod }] of this.#routes) {
        for (const [method, byStatus] of byMethod) {
          for (const [status, count] of byStatus) {
            result.observe(count, { route, method, status: String(status) });
          }
        }
      }
    });
    this.#gauge(
      "auth_http_requests_in_flight",
      "Requests being handled now",
      () => this.#inFlight,
    );
    this.#meter.createObservableCounter("process_cpu_seconds", {
      description: "User and system CPU time spent",
    }).addCallback((result) => {
      const { user, system } = process.cpuUsage();
      result.observe((user + system) / 1e6);
    });
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
      "deno_eventloop_lag_seconds",
      `How late a timer due every ${LAG_PROBE_INTERVAL_MS} ms fired`,
      LAG_BUCKETS,
    );
    this.#stopLagProbe = probeEventLoopLag((seconds) => lag.record(seconds));
  }

  /** The edge's hook: counts and times every request. */
  get requestObserver(): RequestObserver {
    return {
      started: () => this.#inFlight++,
      finished: (route = UNMATCHED_ROUTE, method, status, seconds) => {
        this.#inFlight--;
        let counts = this.#routes.get(route);
        if (!counts) {
          this.#routes.set(route, counts = { attributes: { route }, byMethod: new Map() });
        }
        const label = methodLabel(method);
        let byStatus = counts.byMethod.get(label);
        if (!byStatus) counts.byMethod.set(label, byStatus = new Map());
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        this.#duration.record(seconds, counts.attributes);
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
      const outcomes = tokens.outcomes;
      for (const outcome of TOKEN_OUTCOMES) {
        result.observe(outcomes.get(outcome) ?? 0, { outcome });
      }
      for (const [outcome, count] of outcomes) {
        if (!TOKEN_OUTCOMES.includes(outcome)) result.observe(count, { outcome });
      }
    });
    this.#meter.createObservableCounter("auth_token_cache_hits", {
      description: "Access-token verifications answered from the cache of verified tokens",
    }).addCallback((result) => result.observe(tokens.cacheHits));
  }

  /**
   * Adds `auth_build_info`, always 1, labelled with the service's version, the Deno version and
   * the current signing key's algorithm (read at each scrape, as `keys rotate` may change it).
   */
  observeBuild(signingAlg: () => string): void {
    this.#meter.createObservableGauge("auth_build_info", {
      description: "The version, Deno version and current signing algorithm; always 1",
    }).addCallback((result) =>
      result.observe(1, {
        version: VERSION,
        deno_version: Deno.version.deno,
        signing_alg: signingAlg(),
      })
    );
  }

  /** Reports whether the store answered its last health ping, read at each scrape. */
  observeStoreHealth(health: { state: string }): void {
    this.#gauge(
      "auth_store_available",
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

  /**
   * Wraps `store` so that every operation's latency and failures are recorded; the error count
   * of each operation starts at 0.
   */
  measureStore<T extends Store>(store: T): T {
    for (const operation of operationsOf(store)) this.#storeErrors.add(0, { operation });
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

/** The names of a store's methods: its own, its class's and its ancestors', the constructor aside. */
function operationsOf(store: object): string[] {
  const names = new Set<string>();
  for (
    let level = store;
    level && level !== Object.prototype;
    level = Object.getPrototypeOf(level)
  ) {
    for (const name of Object.getOwnPropertyNames(level)) {
      const descriptor = Object.getOwnPropertyDescriptor(level, name);
      if (name !== "constructor" && typeof descriptor?.value === "function") names.add(name);
    }
  }
  return [...names].sort();
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
