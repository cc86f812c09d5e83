/**
 * @module
 * The ceiling for GET /hello: a bare `Deno.serve` TLS server with no routing, no authentication
 * and no logging, answering every request with the body our /hello sends.
 *
 *   deno run --allow-read --allow-net tests/bench/bare_server.ts --mode minimal|same-headers \
 *     --cert cert.pem --key key.pem [--port 0]
 *
 * `minimal` answers with `Response.json` alone; `same-headers` also sets the response headers our
 * server sends (security headers, cache-control, a fresh x-request-id), through
 * `res.headers.set` after construction, the cheap path in Deno. It prints one line
 * `{"msg":"Listening","url":…}` on stdout once bound, and stops on SIGTERM.
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
if (!values.cert || !values.key || !["minimal", "same-headers"].includes(values.mode)) {
  console.error("Error: expected --mode minimal|same-headers --cert FILE --key FILE");
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

Deno.serve({
  hostname: "localhost",
  port: Number(values.port),
  cert: await Deno.readTextFile(values.cert),
  key: await Deno.readTextFile(values.key),
  onListen({ port }) {
    console.log(JSON.stringify({ msg: "Listening", url: `https://localhost:${port}` }));
  },
}, values.mode === "minimal" ? minimal : sameHeaders);
