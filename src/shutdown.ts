/**
 * @module
 * Stopping the service gracefully: the requests the HTTPS listener accepted get their answers,
 * then the listeners close and the services and store after them, all within `SHUTDOWN_TIMEOUT`.
 * It starts nothing; the server hands it what to stop.
 */
import type { Config } from "./config.ts";
import type { RequestsInFlight } from "./http/in_flight.ts";
import type { Logger } from "./log.ts";

/**
 * The part of `SHUTDOWN_TIMEOUT` (at most half of it) kept for closing the listeners after the
 * wait for requests in flight.
 */
const LISTENER_CLOSE_RESERVE_MS = 1000;

/** What a graceful shutdown stops, and whom it tells. */
export interface ShutdownParts {
  /** Every listener and watcher, each stopped with `shutdown()`. */
  listeners: { shutdown(): Promise<void> }[];
  /** What lives on the store, and the store: closed last. */
  services: { close(): Promise<void> };
  /** The HTTPS listener's requests. */
  inFlight: RequestsInFlight;
  /** Called as the shutdown begins. */
  onClosing(): void;
}

/**
 * The service's `shutdown()`: the first call stops everything within `SHUTDOWN_TIMEOUT` and logs
 * "Shutting down" and "Stopped"; later calls return the same promise.
 */
export function gracefulShutdown(
  config: Config,
  logger: Logger,
  { listeners, services, inFlight, onClosing }: ShutdownParts,
): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return function shutdown() {
    stopping ??= (async () => {
      const timeoutMs = config.shutdownTimeoutMs;
      const deadline = performance.now() + timeoutMs;
      onClosing();
      logger.log("info", "Shutting down", { timeout_ms: timeoutMs, in_flight: inFlight.size });
      // Deno.serve cuts off request bodies still arriving when its listener closes, so the
      // listener stays open until the requests accepted so far have their answers. What is
      // left of a body when that wait ends is answered 503, within the reserve.
      const reserveMs = Math.min(LISTENER_CLOSE_RESERVE_MS, timeoutMs / 2);
      const answered = await inFlight.settled(timeoutMs - reserveMs);
      const drained = Promise.all(listeners.map((listener) => listener.shutdown()));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        drained.then(() => answered),
        new Promise<false>((resolve) =>
          timer = setTimeout(resolve, Math.max(0, deadline - performance.now()), false)
        ),
      ]);
      clearTimeout(timer);
      await services.close();
      logger.log("info", "Stopped", { drained: finished });
      logger.flush();
    })();
    return stopping;
  };
}
