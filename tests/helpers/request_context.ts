/**
 * @module
 * A request's context as the edge makes it, for tests and micro-benchmarks that call a handler,
 * the router or the authentication directly, without a server.
 */
import type { RequestContext } from "../../src/http/context.ts";

/** The context of a request from loopback, in the Flask dialect, with `requestId`. */
export function requestContext(requestId = "test"): RequestContext {
  return {
    requestId,
    remoteAddress: "127.0.0.1",
    addressGroup: "127.0.0.1",
    params: {},
    errorDialect: "flask",
    accessLog: true,
  };
}
