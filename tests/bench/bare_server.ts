/**
 * @module
 * The ceiling for GET /hello: a bare `Deno.serve` TLS server with no routing, no authentication
 * and no logging, answering every request with the body our /hello sends.
 *
 *   deno run --allow-read --allow-net tests/bench/bare_server.ts \
 *     --mode minimal|same-headers|same-work --cert cert.pem --key key.pem [--port 0]
 *
 * `minimal` answers with `Response.json` alone; `same-headers` also sets the response headers our
 * server sends (security headers, cache-control, a fresh x-request-id), through
 * `res.headers.set` after construction, the cheap path in Deno; `same-work` also writes the JSON
 * access-log line our server writes for each request (time, level, request id, method, path,
 * status, duration, user, remote address) to stdout, collected and written once per event-loop
 * turn as src/log.ts does: the work every answer of ours must do, without authentication or
 * routing. It prints one line `{"msg":"Listening","url":…}` on stdout once bound, and stops on
 * SIGTERM.
 */
import { parseArgs } from "node:util";
import { edgeHeaders } from "../helpers/edge_headers.mjs";

const NAME = "user1";

const { values } = parseArgs({
  args: Deno.args,
  strict: true,
  options: {
    mode: { type: "string", default: "minimal" },
    cert: { type: "string" },
    key: { type: "string" },
    port: { type: "string", default: "0" },
  },
});
const MODES = ["minimal", "same-headers", "same-work"];
if (!values.cert || !values.key || !MODES.includes(values.mode)) {
  console.error(`Error: expected --mode ${MODES.join("|")} --cert FILE --key FILE`);
  Deno.exit(1);
}

function minimal(): Response {
  return Response.json({ message: `Hello, ${NAME}! You're authenticated.` });
}

function sameHeaders(): Response {
  const res = new Response(JSON.stringify({ message: `Hello, ${NAME}! You're authenticated.` }));
  for (const [name, value] of Object.entries(edgeHeaders())) res.headers.set(name, value);
  return res;
}

/** Access-log lines, written to stdout once per event-loop turn. */
const pending: string[] = [];
const encoder = new TextEncoder();
let scheduled = false;

function flushLog(): void {
  scheduled = false;
  const bytes = encoder.encode(pending.join("\n") + "\n");
  pending.length = 0;
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

let lastMs = 0;
let isoTime = "";

function sameWork(req: Request, info: Deno.ServeHandlerInfo): Response {
  const started = performance.now();
  const res = sameHeaders();
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    isoTime = new Date(now).toISOString();
  }
  const url = req.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const query = url.indexOf("?", start);
  const fields = JSON.stringify({
    request_id: res.headers.get("x-request-id"),
    method: req.method,
    path: url.slice(start, query === -1 ? url.length : query),
    status: res.status,
    duration_ms: Math.round((performance.now() - started) * 100) / 100,
    user: NAME,
    remote_address: (info.remoteAddr as Deno.NetAddr).hostname,
  });
  pending.push(`{"time":"${isoTime}","level":"info","msg":"request",${fields.slice(1)}`);
  if (!scheduled) {
    scheduled = true;
    setTimeout(flushLog, 0);
  }
  return res;
}

const HANDLERS: Record<string, Deno.ServeHandler> = {
  "minimal": minimal,
  "same-headers": sameHeaders,
  "same-work": sameWork,
};

Deno.serve({
  hostname: "localhost",
  port: Number(values.port),
  cert: await Deno.readTextFile(values.cert),
  key: await Deno.readTextFile(values.key),
  onListen({ port }) {
    console.log(JSON.stringify({ msg: "Listening", url: `https://localhost:${port}` }));
  },
}, HANDLERS[values.mode]);
