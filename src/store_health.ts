/**
 * @module
 * Whether the store answers: a ping bounded in time, run by each readiness check and in the
 * background, so that an outage is noticed without checks too. Each change is logged once (a
 * warning when the store stops answering, info when it answers again) and kept for the metrics.
 * It only reports: readiness does not depend on it, since tokens verify from memory.
 */
import type { StoreState } from "./handlers/health.ts";
import type { Logger } from "./log.ts";

/** The longest a ping may take before the store counts as not answering. */
const PING_TIMEOUT_MS = 1000;
/** How often the store is pinged in the background. */
const PING_INTERVAL_MS = 5000;

/** The store's state as its last ping found it. */
export class StoreHealth {
  readonly #ping: () => Promise<void>;
  readonly #logger: Logger;
  readonly #timer: ReturnType<typeof setInterval>;
  #state: StoreState = "ok";
  #since = performance.now();
  #checking?: Promise<StoreState>;

  /** Starts pinging in the background with `ping`, which resolves when the store answers. */
  constructor(ping: () => Promise<void>, logger: Logger) {
    this.#ping = ping;
    this.#logger = logger;
    this.#timer = setInterval(() => this.check(), PING_INTERVAL_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** What the last ping found. */
  get state(): StoreState {
    return this.#state;
  }

  /** Pings the store now, or joins a ping under way, and resolves to what it found. */
  check(): Promise<StoreState> {
    this.#checking ??= this.#pingOnce().then((state) => {
      this.#checking = undefined;
      this.#record(state);
      return state;
    });
    return this.#checking;
  }

  /** Stops the background pings. */
  close(): void {
    clearInterval(this.#timer);
  }

  async #pingOnce(): Promise<StoreState> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.#ping().then((): StoreState => "ok", (): StoreState => "unavailable"),
        new Promise<StoreState>((resolve) => {
          timer = setTimeout(resolve, PING_TIMEOUT_MS, "timed_out");
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #record(state: StoreState): void {
    if ((state === "ok") === (this.#state === "ok")) {
      this.#state = state;
      return;
    }
    const now = performance.now();
    const lastedMs = Math.round(now - this.#since);
    this.#state = state;
    this.#since = now;
    if (state === "ok") {
      this.#logger.log("info", "Store answers again", { unavailable_ms: lastedMs });
    } else {
      this.#logger.log(
        "warn",
        "Store not answering; still ready, since tokens verify from memory",
        { store: state },
      );
    }
  }
}
