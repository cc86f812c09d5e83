/**
 * @module
 * The metrics listener's one route: `GET /metrics` in the Prometheus text exposition format, on
 * its own plain-HTTP port so that metrics never share the public one.
 */
import type { Metrics } from "./metrics.ts";

/** Answers `GET /metrics`; anything else is 404, a wrong method 405. */
export function createMetricsHandler(metrics: Metrics): (req: Request) => Promise<Response> {
  return async function serveMetrics(req) {
    const { pathname } = new URL(req.url);
    if (pathname !== "/metrics") return new Response("Not found\n", { status: 404 });
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const body = await metrics.render();
    return new Response(req.method === "HEAD" ? null : body, {
      headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
    });
  };
}

/**
 * The exposition's URL on the address the listener is bound to, as it is: `0.0.0.0` or `::`
 * stay wildcards, so that a log line never makes metrics open to every network look local.
 */
export function metricsUrlFor(hostname: string, port: number): string {
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/metrics`;
}
