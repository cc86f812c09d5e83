/**
 * @module
 * What the in-process ways of bounding slow clients cost and whether they work, for README:
 *
 *   deno run -A tests/bench/front_variants.ts [--duration S]
 *
 * Each variant serves the real app (the same handler `Deno.serve` gets) in a child process:
 * - `deno-serve`: `Deno.serve` with cert and key, as the service runs (no bounds at all);
 * - `listentls-conn`: `Deno.listenTls`, the handshake raced against a timer, then each
 *   connection handed to Deno's HTTP layer through the private `serveHttpOnConnection`, with
 *   header and idle timers kept per connection (`Deno.serve` takes no listener);
 * - `node-https`: `node:https` with `handshakeTimeout`, `headersTimeout`, `requestTimeout` and
 *   `keepAliveTimeout`, converting each request to a `Request` and back.
 * For each it measures GET /hello under wrk, then opens one connection that never starts the
 * TLS handshake and one that sends its request head a byte a second, and reports whether the
 * server closed them within the 5 s bound plus 5 s. It is not part of `deno task bench`: the
 * second variant depends on Deno internals and exists only to be measured.
 */
import { freePort } from "../helpers/process.ts";
import https from "node:https";
import { parseArgs } from "node:util";
import { login, startTestServer } from "../helpers/server.ts";
import { testCertificate } from "../helpers/tls.ts";
import { openSlowConnection, type SlowKind } from "../helpers/slow_clients.ts";
import { runWrk } from "./wrk.ts";

const VARIANTS = ["deno-serve", "listentls-conn", "node-https"] as const;
type Variant = typeof VARIANTS[number];
const BOUND_MS = 5000;

type ServeOptions = Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem;
type ServeHttpOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: Deno.ServeHandler,
  onError: (error: unknown) => Response | Promise<Response>,
  onListen: (scheme: string) => void,
) => Deno.HttpServer;

/** Child: serves the app with `variant` in place of `Deno.serve`, prints URL and a token. */
async function serveVariant(variant: Variant, port: number): Promise<void> {
  const realServe = Deno.serve;
  const replacement = (options: ServeOptions, handler: Deno.ServeHandler) => {
    if (variant === "deno-serve") return realServe(options, handler);
    return variant === "node-https" ? nodeHttps(options, handler) : listenTlsConn(options, handler);
  };
  Object.assign(Deno, { serve: replacement });
  const server = await startTestServer({
    users: { user1: "password1" },
    env: { LOG_LEVEL: "warn" },
    config: { port },
  });
  // node:https binds asynchronously: retry the first login for a moment.
  let token: string | undefined;
  for (const deadline = Date.now() + 10_000; !token;) {
    try {
      token = (await login(server, "user1", "password1")).body.access_token as string;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const { certPem } = await testCertificate();
  console.log(JSON.stringify({ token, certPem }));
  await new Promise(() => {});
}

function listenTlsConn(options: ServeOptions, handler: Deno.ServeHandler): Deno.HttpServer {
  const internal =
    (Deno as unknown as Record<symbol, { serveHttpOnConnection: ServeHttpOnConnection }>)[
      (Deno as unknown as { internal: symbol }).internal
    ];
  const listener = Deno.listenTls({
    hostname: options.hostname,
    port: options.port,
    cert: options.cert,
    key: options.key,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const serve = async (conn: Deno.TlsConn) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const handshook = await Promise.race([
      conn.handshake().then(() => true, () => false),
      new Promise<boolean>((resolve) => timer = setTimeout(resolve, BOUND_MS, false)),
    ]);
    clearTimeout(timer);
    if (!handshook) {
      conn.close(); // Releases the resource, but Deno keeps the socket until the peer leaves.
      return;
    }
    const abort = new AbortController();
    let inFlight = 0;
    let lastActive = performance.now();
    const idle = setInterval(() => {
      if (inFlight === 0 && performance.now() - lastActive > BOUND_MS) abort.abort();
    }, 250);
    const http = internal.serveHttpOnConnection(
      conn,
      abort.signal,
      async (req, info) => {
        inFlight++;
        try {
          return await handler(req, info);
        } finally {
          inFlight--;
          lastActive = performance.now();
        }
      },
      options.onError ?? (() => new Response(null, { status: 500 })),
      () => {},
    );
    await http.finished.catch(() => {}); // A reset by the client ends it too.
    clearInterval(idle);
  };
  (async () => {
    for await (const conn of listener) serve(conn);
  })();
  return fakeServer(listener.addr as Deno.NetAddr, () => listener.close());
}

function nodeHttps(options: ServeOptions, handler: Deno.ServeHandler): Deno.HttpServer {
  const server = https.createServer({
    cert: options.cert,
    key: options.key,
    handshakeTimeout: BOUND_MS,
    headersTimeout: BOUND_MS,
    requestTimeout: BOUND_MS,
    keepAliveTimeout: BOUND_MS,
    connectionsCheckingInterval: 250,
  } as https.ServerOptions, async (req, res) => {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(`https://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: hasBody ? new Blob(chunks as BlobPart[]) : undefined,
    });
    const remoteAddr = {
      transport: "tcp",
      hostname: req.socket.remoteAddress!,
      port: req.socket.remotePort!,
    };
    const response = await handler(request, {
      remoteAddr,
      completed: Promise.resolve(),
    } as unknown as Deno.ServeHandlerInfo);
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => out[name] = value);
    res.writeHead(response.status, out);
    res.end(new Uint8Array(await response.arrayBuffer()));
  });
  server.listen(options.port, options.hostname);
  const addr = { transport: "tcp" as const, hostname: options.hostname ?? "", port: options.port! };
  return fakeServer(addr, () => server.close());
}

function fakeServer(addr: Deno.NetAddr, close: () => void): Deno.HttpServer {
  return {
    addr,
    finished: Promise.resolve(),
    ref() {},
    unref() {},
    shutdown: () => Promise.resolve(close()),
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
  } as Deno.HttpServer;
}

/** Parent: starts each variant, loads it, and probes it with slow connections. */
async function main(durationSeconds: number): Promise<void> {
  const rows: string[] = [];
  for (const variant of VARIANTS) {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, "--serve", variant, "--port", String(port)],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const { value } = await reader.read();
      const { token, certPem } = JSON.parse(value!.split("\n")[0]);
      const url = `https://127.0.0.1:${port}`;
      const wrk = await runWrk(`${url}/hello`, {
        threads: 2,
        connections: 32,
        durationSeconds,
        headers: { authorization: `Bearer ${token}` },
      });
      const target = { port, caPem: certPem, serverName: "localhost", trickleIntervalMs: 1000 };
      const kinds: SlowKind[] = ["silent", "header_trickle"];
      const probes = await Promise.all(
        kinds.map((kind, i) => openSlowConnection(kind, `127.0.2.${i + 1}`, target)),
      );
      await new Promise((resolve) => setTimeout(resolve, 2 * BOUND_MS));
      const fate = probes.map((probe) =>
        `${probe.kind} ${
          probe.closedAt === undefined
            ? "still open"
            : `closed after ${((probe.closedAt - probe.connectedAt) / 1000).toFixed(1)} s`
        }`
      );
      for (const probe of probes) probe.close();
      rows.push(
        `${variant.padEnd(15)} ${Math.round(wrk.requestsPerSecond).toString().padStart(7)} req/s ` +
          `p99 ${wrk.latencyMs.p99.toFixed(1)} ms; ${fate.join("; ")}`,
      );
      console.log(rows.at(-1));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // It has exited already.
      }
      await child.status;
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "string" },
      port: { type: "string" },
      duration: { type: "string", default: "10" },
    },
  });
  if (values.serve) await serveVariant(values.serve as Variant, Number(values.port));
  else await main(Number(values.duration));
}
