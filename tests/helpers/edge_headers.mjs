/**
 * The headers our edge puts on a JSON answer, as plain values: for the benchmark's peers, which
 * answer as our server does (Deno and Node programs alike, hence JavaScript), and for tests that
 * build such an answer by hand. It sets no header itself and imports nothing from `src/`, so a
 * peer stays a program of its own.
 *
 * @module
 */

/** The headers every JSON answer of the edge carries, but for its fresh `x-request-id`. */
export const EDGE_HEADERS = Object.freeze({
  "content-type": "application/json; charset=utf-8",
  "strict-transport-security": "max-age=63072000",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
});

/** The edge's headers for one answer: {@linkcode EDGE_HEADERS} and a fresh `x-request-id`. */
export function edgeHeaders() {
  return { ...EDGE_HEADERS, "x-request-id": crypto.randomUUID() };
}
