/**
 * A client that times requests on one kept-alive HTTPS/1.1 connection the way most clients use
 * one: Python's `ssl` and `http.client` response parser, each request sent in one write, with
 * `TCP_NODELAY` off on its socket and the kernel's delayed ACKs left as they are. It is what
 * shows a server's answer held back by Nagle's algorithm until the client's delayed ACK (about
 * 40 ms on Linux): p50 latencies of ~44 ms instead of well under one.
 *
 * @module
 */
import { join } from "node:path";
import { type Python, python3With } from "./prerequisites.ts";
import { runProgram } from "./process.ts";

/** Python 3 from the standard library alone. */
export const PYTHON: Python = python3With();

/** One request to repeat on the connection. */
export interface KeptAliveRequest {
  /** A name for the results, such as "discovery". */
  name: string;
  method?: string;
  /** Path and query, such as `/hello`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What one request gave, `rounds` times on the same connection. */
export interface KeptAliveTiming {
  name: string;
  /** Milliseconds from the request's write to the answer's last byte, in order. */
  timesMs: number[];
  /** Every status seen. */
  statuses: number[];
  /** The size of the last answer's body. */
  bodyBytes: number;
  /** The last answer's framing: `content-length` or `chunked`. */
  framing: string;
}

/** Options of {@linkcode timeKeptAlive}. */
export interface KeptAliveOptions {
  /** Origin such as `https://localhost:8443`; `http:` for plain HTTP, to compare. */
  url: string;
  /** PEM of the certificate (or CA) to trust over HTTPS. */
  caPem: string;
  /** A directory for the certificate file and the script. */
  dir: string;
  /** Timed repetitions of each request. */
  rounds: number;
  /** Untimed repetitions of each request first (the kernel ACKs the first segments at once). */
  warmup?: number;
}

/**
 * Sends every request `warmup + rounds` times, in turn, on one connection, and returns the timed
 * rounds. Throws when the connection breaks or Python fails.
 */
export async function timeKeptAlive(
  requests: KeptAliveRequest[],
  options: KeptAliveOptions,
): Promise<KeptAliveTiming[]> {
  const ca = join(options.dir, "kept-alive-ca.pem");
  await Deno.writeTextFile(ca, options.caPem);
  const script = join(options.dir, "kept_alive_client.py");
  await Deno.writeTextFile(script, CLIENT);
  const url = new URL(options.url);
  const spec = {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || (url.protocol === "http:" ? 80 : 443)),
    authority: url.host,
    tls: url.protocol === "https:",
    ca,
    rounds: options.rounds,
    warmup: options.warmup ?? 3,
    requests: requests.map((request) => ({ method: "GET", headers: {}, ...request })),
  };
  const { code, stdout, stderr } = await runProgram(PYTHON.path, [script], {
    stdin: JSON.stringify(spec),
  });
  if (code !== 0) throw new Error(`The kept-alive client failed: ${stderr.trim()}`);
  return JSON.parse(stdout) as KeptAliveTiming[];
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const CLIENT = `import http.client, json, socket, ssl, sys, time

spec = json.load(sys.stdin)
raw = socket.create_connection((spec["host"], spec["port"]))
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
sock = raw
if spec["tls"]:
    context = ssl.create_default_context(cafile=spec["ca"])
    context.set_alpn_protocols(["http/1.1"])
    sock = context.wrap_socket(raw, server_hostname=spec["host"])
host = spec["authority"]

def encode(request):
    body = (request.get("body") or "").encode()
    lines = [f"{request['method']} {request['path']} HTTP/1.1", f"Host: {host}",
             "Accept: */*", "User-Agent: kept-alive-client"]
    lines += [f"{name}: {value}" for name, value in request["headers"].items()]
    if body or request["method"] in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\\r\\n".join(lines) + "\\r\\n\\r\\n").encode() + body

results = []
for request in spec["requests"]:
    message = encode(request)
    times, statuses, size, framing = [], set(), 0, ""
    for i in range(spec["warmup"] + spec["rounds"]):
        start = time.perf_counter()
        sock.sendall(message)
        response = http.client.HTTPResponse(sock, method=request["method"])
        response.begin()
        data = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.will_close:
            sys.exit(f"{request['name']}: the server closed the connection")
        if i >= spec["warmup"]:
            times.append(elapsed)
        statuses.add(response.status)
        size = len(data)
        framing = "chunked" if response.chunked else "content-length"
    results.append({"name": request["name"], "timesMs": times, "statuses": sorted(statuses),
                    "bodyBytes": size, "framing": framing})
sock.close()
print(json.dumps(results))
`;
