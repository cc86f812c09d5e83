/**
 * Part (a) without the framework peers, alone: `GET /hello` on our `serve` task against the three
 * bare `Deno.serve` servers (minimal, same headers, same work), under wrk in alternating rounds,
 * for measuring a change to the request path in minutes rather than a whole benchmark run.
 *
 *   deno run -A tests/bench/hello_alone.ts [--rounds N] [--duration S] [--connections N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { ServerProcess } from "../helpers/process.ts";
import { createFixture, type Fixture, login, startBareServer, startOurServer } from "./fixture.ts";
import { measureHelloLoad } from "./hello_load.ts";
import { waitForStatus } from "./poll.ts";
import { renderTable } from "./table.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "32" },
  },
});

/** Waits for a server's first answer and returns its 127.0.0.1 origin. */
async function origin(server: ServerProcess, fixture: Fixture, status: number): Promise<string> {
  const url = new URL(await server.listening(30_000));
  url.hostname = "127.0.0.1";
  await waitForStatus(`${url.origin}/hello`, {
    client: fixture.client,
    status,
    exited: server.exited,
  });
  return url.origin;
}

await using fixture = await createFixture();
await using ours = startOurServer(fixture, { port: 0, logLevel: "info" });
await using minimal = startBareServer("minimal", fixture);
await using headers = startBareServer("same-headers", fixture);
await using work = startBareServer("same-work", fixture);
const oursUrl = await origin(ours, fixture, 401);
const load = await measureHelloLoad([
  { name: "ours", url: oursUrl },
  { name: "bare-minimal", url: await origin(minimal, fixture, 200) },
  { name: "bare-same-headers", url: await origin(headers, fixture, 200) },
  { name: "bare-same-work", url: await origin(work, fixture, 200) },
], {
  rounds: Number(values.rounds),
  durationSeconds: Number(values.duration),
  warmupSeconds: 2,
  connections: Number(values.connections),
  token: () => login(oursUrl, fixture),
  progress: (message) => console.error(`bench: ${message}`),
});
console.log(renderTable(
  ["server", "req/s", "req/s per round", "p50 ms", "p99 ms"],
  load.summaries.map((s) => [
    s.target,
    s.requestsPerSecond.toFixed(0),
    s.perRoundRequestsPerSecond.map((rate) => rate.toFixed(0)).join(" / "),
    s.p50Ms.toFixed(2),
    s.p99Ms.toFixed(2),
  ]),
  ["left", "right", "right", "right", "right"],
));
console.log(renderTable(
  ["ratio", "mean", "per round"],
  load.ratios.map((r) => [
    `${r.of} ÷ ${r.to}`,
    r.mean.toFixed(3),
    r.perRound.map((value) => value.toFixed(3)).join(" / "),
  ]),
  ["left", "right", "right"],
));
