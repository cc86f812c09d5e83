/**
 * @module
 * `GET /health/live` and `GET /health/ready`: what a load balancer or an orchestrator asks. Both
 * are cheap, unauthenticated and never touch a password hash.
 */
import type { Handler } from "../http/context.ts";
import { json } from "../http/json.ts";

/** What readiness depends on. */
export interface ReadinessProbe {
  /** Resolves when the store answers. */
  pingStore(): Promise<void>;
  /** Whether a signing key is loaded. */
  hasSigningKey(): boolean;
  /** Whether the instance has begun to drain before shutting down. */
  draining(): boolean;
}

/** The longest a readiness check waits for the store before answering 503. */
const STORE_CHECK_TIMEOUT_MS = 1000;

/** `GET /health/live`: 200 while the process serves requests at all. */
export function createLivenessHandler(): Handler {
  return function live() {
    return json({ status: "ok" });
  };
}

/**
 * `GET /health/ready`: 200 when the store answers within a short bound, a signing key is loaded and
 * the instance is not draining; else 503 with the reason.
 */
export function createReadinessHandler(probe: ReadinessProbe): Handler {
  return async function ready() {
    const reason = await notReadyReason(probe);
    if (reason === undefined) return json({ status: "ready" });
    return json({ status: "not_ready", reason }, { status: 503, headers: { "retry-after": "5" } });
  };
}

async function notReadyReason(probe: ReadinessProbe): Promise<string | undefined> {
  if (probe.draining()) return "shutting down";
  if (!probe.hasSigningKey()) return "no signing key loaded";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("store did not answer in time"), STORE_CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      probe.pingStore().then(() => undefined, () => "store unavailable"),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
