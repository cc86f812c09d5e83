/**
 * @module
 * `GET /health/live` and `GET /health/ready`: what a load balancer or an orchestrator asks. Both
 * are cheap, unauthenticated and never touch a password hash.
 */
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";

/** What a bounded ping found of the store: it answered, failed, or did not answer in time. */
export type StoreState = "ok" | "unavailable" | "timed_out";

/** What readiness depends on, and what it reports. */
export interface ReadinessProbe {
  /** Pings the store (within a short bound): reported, not required. */
  storeState(): Promise<StoreState>;
  /** Whether a signing key is loaded. */
  hasSigningKey(): boolean;
  /** Whether the instance has begun to drain or to shut down. */
  draining(): boolean;
}

/** `GET /health/live`: 200 while the process serves requests at all. */
export function createLivenessHandler(): Handler {
  return function live() {
    return json({ status: "ok" });
  };
}

/**
 * `GET /health/ready`: whether this instance can serve. 200 while a signing key is loaded and the
 * instance is not draining, with the store's state in `store`: during a store outage tokens still
 * verify from memory, so a load balancer must keep the instance (requests that need the store
 * answer 503 themselves). Else 503 with the reason and `Retry-After`.
 */
export function createReadinessHandler(probe: ReadinessProbe): Handler {
  return async function ready() {
    const reason = probe.draining()
      ? "shutting down"
      : probe.hasSigningKey()
      ? undefined
      : "no signing key loaded";
    if (reason !== undefined) {
      return json({ status: "not_ready", reason }, {
        status: 503,
        headers: { "retry-after": "5" },
      });
    }
    return json({ status: "ready", store: await probe.storeState() });
  };
}
