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
 */
import { parseArgs } from "node:util";
import { median, PYTHON, timeKeptAlive } from "../helpers/kept_alive_client.ts";
import { login, startTestServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { testCertificate } from "../helpers/tls.ts";
import { renderTable } from "./table.ts";
import { runWrk, wrkVersion } from "./wrk.ts";

const SIZES = [100, 1000, 20_000];

/** The bare answer: `?bytes=N&as=string|stream`. */
function bareAnswer(req: Request): Response {
  const query = new URL(req.url).searchParams;
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
  const { values } = parseArgs({ args, options: { rounds: { type: "string", default: "20" } } });
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
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
