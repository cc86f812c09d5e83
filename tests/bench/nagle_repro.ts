/**
 * @module
 * The kept-alive HTTPS stall, reproduced: `deno run -A tests/bench/nagle_repro.ts [--rounds N]`.
 *
 * A bare `Deno.serve` over TLS answers bodies of 100, 1,000 and 20,000 bytes as a string (the
 * fixed-length path) and as a one-chunk `ReadableStream`, and over plain HTTP as a string; our
 * service answers discovery, JWKS and /hello. A client without `TCP_NODELAY` that leaves delayed
 * ACKs on (Python's `ssl` + `http.client`, one request per write, see
 * tests/helpers/kept_alive_client.ts) times each on one kept-alive connection, and wrk `-c1`
 * does the same for the 1,000-byte answers when installed.
 *
 * While Deno leaves `TCP_NODELAY` off on accepted TLS sockets, the bare TLS string answers of
 * 1,000 and 20,000 bytes take ~44 ms (the client's delayed ACK) and our service does not; once
 * they take well under a millisecond, src/http/one_write.ts can go. 20,000 bytes are more than
 * one TLS record, so even the stream takes two writes on loopback (where one TCP segment holds
 * 64 KiB); the service's answers stay within one record.
 *
 * A second table times the first request on fresh connections (`--fresh N` of them per row,
 * default 30), as a client that opens a connection for one request does: Python's
 * `http.client.HTTPSConnection`, which sets `TCP_NODELAY` on its own socket as curl, Node and Go
 * do, over TLS 1.3 and TLS 1.2. Over TLS 1.3 the server sends its session tickets after the
 * handshake, while the client's request is already on its way; an answer that is not written in
 * the same turn of Deno's event loop as the request was read (any `await` in the handler) then
 * waits behind the unacknowledged tickets for the client's delayed ACK, ~40 ms, on some
 * connections. A handler that answers synchronously is not held; over TLS 1.2 the handshake
 * itself waits instead. The rows through HAProxy (`src/deploy/haproxy.cfg`, when installed) show
 * that a front proxy, which keeps its connections to the service alive, avoids it.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { HAPROXY, startProxyFor } from "../helpers/haproxy.ts";
import { median, PYTHON, timeKeptAlive } from "../helpers/kept_alive_client.ts";
import { runProgram } from "../helpers/process.ts";
import { login, startTestServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { testCertificate } from "../helpers/tls.ts";
import { renderTable } from "./table.ts";
import { runWrk, wrkVersion } from "./wrk.ts";

const SIZES = [100, 1000, 20_000];

/** The bare answer: `?bytes=N&as=string|stream`, after one awaited digest with `&await`. */
function bareAnswer(req: Request): Response | Promise<Response> {
  const query = new URL(req.url).searchParams;
  if (query.has("await")) {
    return crypto.subtle.digest("SHA-256", new Uint8Array(1)).then(() => answerOf(query));
  }
  return answerOf(query);
}

function answerOf(query: URLSearchParams): Response {
  const text = "x".repeat(Number(query.get("bytes") ?? 100));
  if (query.get("as") !== "stream") return new Response(text);
  const chunk = new TextEncoder().encode(text);
  return new Response(
    new ReadableStream({
      start(controller) {
        controller.enqueue(chunk);
        controller.close();
      },
    }),
  );
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "20" },
      fresh: { type: "string", default: "30" },
    },
  });
  const rounds = Number(values.rounds);
  if (PYTHON.missing.length > 0) {
    throw new Error(`needs python3 (apt-get install ${PYTHON.missing.join(" ")})`);
  }
  const { certPem, keyPem } = await testCertificate();
  await using temp = await tempDir("auth-api-nagle-");
  const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };
  await using tls = Deno.serve({ ...quiet, cert: certPem, key: keyPem }, bareAnswer);
  await using plain = Deno.serve(quiet, bareAnswer);
  await using ours = await startTestServer({ users: { user1: "password1" } });
  const { body } = await login(ours, "user1", "password1");

  const time = (
    url: string,
    requests: { name: string; path: string; headers?: Record<string, string> }[],
  ) => timeKeptAlive(requests, { url, caPem: certPem, dir: temp.path, rounds });
  const bare = (as: string) =>
    SIZES.map((bytes) => ({ name: `${bytes} B ${as}`, path: `/?bytes=${bytes}&as=${as}` }));
  const rows: string[][] = [];
  const add = (server: string, timings: Awaited<ReturnType<typeof timeKeptAlive>>) => {
    for (const timing of timings) {
      const p50 = median(timing.timesMs);
      rows.push([
        server,
        timing.name,
        String(timing.bodyBytes),
        timing.framing,
        p50.toFixed(2),
        Math.max(...timing.timesMs).toFixed(2),
        p50 > 20 ? "stalled" : "",
      ]);
    }
  };
  add("bare Deno.serve, TLS", await time(`https://localhost:${tls.addr.port}`, bare("string")));
  add("bare Deno.serve, TLS", await time(`https://localhost:${tls.addr.port}`, bare("stream")));
  add("bare Deno.serve, plain", await time(`http://127.0.0.1:${plain.addr.port}`, bare("string")));
  add(
    "this service",
    await time(ours.url, [
      { name: "discovery", path: "/.well-known/openid-configuration" },
      { name: "JWKS", path: "/.well-known/jwks.json" },
      { name: "/hello", path: "/hello", headers: { authorization: `Bearer ${body.access_token}` } },
    ]),
  );
  console.log(`One kept-alive connection, client without TCP_NODELAY, ${rounds} requests each:\n`);
  console.log(renderTable(
    ["server", "answer", "bytes", "framing", "p50 ms", "max ms", ""],
    rows,
    ["left", "left", "right", "left", "right", "right"],
  ));

  if (await wrkVersion()) {
    const wrkRows: string[][] = [];
    for (const as of ["string", "stream"]) {
      const result = await runWrk(`https://localhost:${tls.addr.port}/?bytes=1000&as=${as}`, {
        connections: 1,
        threads: 1,
        durationSeconds: 3,
      });
      wrkRows.push([
        `1000 B ${as}`,
        result.requestsPerSecond.toFixed(0),
        result.latencyMs.p50.toFixed(2),
      ]);
    }
    console.log("\nwrk -c1 -d3 against the bare TLS server:\n");
    console.log(renderTable(["answer", "req/s", "p50 ms"], wrkRows, ["left", "right", "right"]));
  }

  const connections = Number(values.fresh);
  const freshRows: string[][] = [];
  const fresh = async (server: string, answer: string, url: string, path: string) => {
    for (const version of ["1.3", "1.2"] as const) {
      const timing = await timeFirstRequests(url, path, {
        caPem: certPem,
        dir: temp.path,
        connections,
        tls: version,
      });
      const sorted = [...timing.requestMs].sort((a, b) => a - b);
      freshRows.push([
        server,
        answer,
        `TLS ${version}`,
        `${timing.requestMs.filter((ms) => ms > STALL_MS).length} of ${connections}`,
        median(timing.requestMs).toFixed(2),
        sorted.at(-1)!.toFixed(2),
        median(timing.handshakeMs).toFixed(2),
      ]);
    }
  };
  const bareUrl = `https://localhost:${tls.addr.port}`;
  await fresh("bare Deno.serve", "100 B, answered at once", bareUrl, "/?bytes=100");
  await fresh("bare Deno.serve", "100 B after an await", bareUrl, "/?bytes=100&await");
  await fresh("this service", "404", ours.url, "/no-such-page");
  await fresh("this service", "discovery", ours.url, "/.well-known/openid-configuration");
  if (HAPROXY.missing.length === 0) {
    await using proxy = await startProxyFor(ours);
    await fresh("HAProxy → service", "discovery", proxy.url, "/.well-known/openid-configuration");
  }
  console.log(
    `\nThe first request on each of ${connections} fresh connections (http.client, ` +
      `TCP_NODELAY on the client), from the handshake's end to the answer's last byte:\n`,
  );
  console.log(renderTable(
    ["server", "answer", "TLS", `> ${STALL_MS} ms`, "p50 ms", "max ms", "handshake p50 ms"],
    freshRows,
    ["left", "left", "left", "right", "right", "right", "right"],
  ));
}

/** An answer slower than this was held back, not merely slow. */
const STALL_MS = 20;

/** What {@linkcode timeFirstRequests} measured, one entry per connection. */
interface FirstRequests {
  /** From the end of the handshake to the answer's last byte. */
  requestMs: number[];
  handshakeMs: number[];
}

/**
 * Opens `connections` connections one after the other with Python's `http.client`, each for one
 * GET of `path`, limited to TLS `tls`, and times its handshake and its request.
 */
async function timeFirstRequests(
  url: string,
  path: string,
  options: { caPem: string; dir: string; connections: number; tls: "1.2" | "1.3" },
): Promise<FirstRequests> {
  const ca = join(options.dir, "fresh-ca.pem");
  await Deno.writeTextFile(ca, options.caPem);
  const { hostname, port } = new URL(url);
  const { connections, tls } = options;
  const spec = { host: hostname, port: Number(port), ca, path, connections, tls };
  const { code, stdout, stderr } = await runProgram(PYTHON.path, ["-c", FRESH_CLIENT], {
    stdin: JSON.stringify(spec),
  });
  if (code !== 0) throw new Error(`The fresh-connection client failed: ${stderr.trim()}`);
  return JSON.parse(stdout) as FirstRequests;
}

const FRESH_CLIENT = `import http.client, json, ssl, sys, time

spec = json.load(sys.stdin)
request_ms, handshake_ms = [], []
for _ in range(spec["connections"]):
    context = ssl.create_default_context(cafile=spec["ca"])
    if spec["tls"] == "1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    conn = http.client.HTTPSConnection(spec["host"], spec["port"], context=context)
    start = time.perf_counter()
    conn.connect()
    connected = time.perf_counter()
    conn.request("GET", spec["path"])
    conn.getresponse().read()
    done = time.perf_counter()
    conn.close()
    handshake_ms.append((connected - start) * 1000)
    request_ms.append((done - connected) * 1000)
print(json.dumps({"requestMs": request_ms, "handshakeMs": handshake_ms}))
`;

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
