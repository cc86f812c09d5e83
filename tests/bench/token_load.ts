/**
 * @module
 * Part (i) of the benchmark: client_credentials grants per second from this service's
 * `POST /oauth/token` and from panva's oidc-provider (pinned in deno.json), both over HTTPS with
 * the fixture's certificate, under wrk (16 connections), in alternating rounds.
 *
 * Ours runs as the `serve` task does, with ES256 and with EdDSA signing keys (two databases, one
 * registered confidential client each, with the same secret). oidc-provider runs on Node when it
 * is installed (from a node_modules that `deno install` lays out in a temp dir from this
 * repository's lock file), else on Deno, with ES256 and EdDSA JWT access tokens for a resource
 * server named by resource indicators, and with opaque tokens. Standalone:
 *
 *   deno run -A tests/bench/token_load.ts [--rounds N] [--duration S] [--connections N]
 */
import { newClientRecord } from "../../src/auth/clients/registration.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { freePort, ServerProcess } from "../helpers/process.ts";
import { alternatingRounds, type RoundsOptions, runPartAlone } from "./alternating_rounds.ts";
import { type Fixture, startOurServer } from "./fixture.ts";
import { preparePeerRuntime } from "./node_peers.ts";
import { renderTable } from "./table.ts";
import { check, TARGETS, verdict } from "./targets.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

/** The registered client every server knows, with the same secret. */
export const TOKEN_CLIENT_ID = "bench-service";

/** One server whose token endpoint is measured. */
export interface TokenTarget {
  name: string;
  /** Where grants are asked for. */
  tokenUrl: string;
  /** What the first answer said: the token's `alg`, or "opaque". */
  tokenKind: string;
}

/** One wrk run of one target. */
export interface TokenRun {
  target: string;
  round: number;
  wrk: WrkResult;
}

/** Our figure ÷ a peer's, per round and their mean. */
export interface TokenRatio {
  of: string;
  to: string;
  perRound: number[];
  mean: number;
}

/** Part (i)'s figures. */
export interface TokenLoad {
  /** Where oidc-provider ran: "node v20.…" or "deno". */
  peerRuntime: string;
  connections: number;
  targets: TokenTarget[];
  runs: TokenRun[];
  ratios: TokenRatio[];
  warnings: string[];
}

/** The comparison held to {@linkcode TARGETS.tokenEs256Ratio}; the others are printed beside it. */
export const TOKEN_TARGET_PAIR = ["ours ES256", "oidc-provider JWT ES256"] as const;

/** Which figure is compared with which. */
const COMPARISONS: [string, string][] = [
  ["ours ES256", "oidc-provider JWT ES256"],
  ["ours EdDSA", "oidc-provider JWT EdDSA"],
  ["ours ES256", "oidc-provider opaque"],
];

const PEER_SCRIPT = "oidc_provider_peer.mjs";

/** Starts every server, checks one grant of each, and runs the alternating rounds. */
export async function measureTokenLoad(
  fixture: Fixture,
  options: RoundsOptions,
): Promise<TokenLoad> {
  const { signal } = options;
  await using stack = new AsyncDisposableStack();
  const secret = await registerBenchClient(fixture, ["data/auth.db", "data/eddsa.db"]);
  const runtime = await preparePeerRuntime(stack, signal);
  const servers: { name: string; server: ServerProcess; origin?: string }[] = [];
  for (const alg of ["ES256", "EdDSA"]) {
    const port = freePort();
    const server = stack.use(startOurServer(fixture, {
      port,
      logLevel: options.logLevel,
      signal,
      env: {
        JWT_ALG: alg,
        DATABASE_URL: `sqlite:${fixture.dir}/data/${alg === "ES256" ? "auth" : "eddsa"}.db`,
      },
    }));
    servers.push({ name: `ours ${alg}`, server, origin: `https://127.0.0.1:${port}` });
  }
  for (
    const [name, format, alg] of [
      ["oidc-provider JWT ES256", "jwt", "ES256"],
      ["oidc-provider JWT EdDSA", "jwt", "EdDSA"],
      ["oidc-provider opaque", "opaque", "ES256"],
    ]
  ) {
    const peer = runtime.command(PEER_SCRIPT);
    const args = [
      ...peer.args,
      "--cert",
      fixture.certPath,
      "--key",
      fixture.keyPath,
      // In one form: a base64url secret may start with "-", which parseArgs takes for an option.
      `--secret=${secret}`,
      "--format",
      format,
      "--alg",
      alg,
    ];
    servers.push({
      name,
      server: stack.use(
        new ServerProcess([], {
          name,
          program: { command: peer.command, args },
          cwd: peer.cwd,
          disposeSignal: "SIGTERM",
          dropLogsAfterListening: true,
          signal,
        }),
      ),
    });
  }

  const basic = `Basic ${btoa(`${TOKEN_CLIENT_ID}:${secret}`)}`;
  const script = `${fixture.dir}/grant.lua`;
  await Deno.writeTextFile(
    script,
    [
      'wrk.method = "POST"',
      'wrk.body = "grant_type=client_credentials"',
      'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
      `wrk.headers["Authorization"] = "${basic}"`,
      "",
    ].join("\n"),
  );
  const targets: TokenTarget[] = [];
  for (const { name, server, origin } of servers) {
    const url = origin ?? new URL(await server.listening(30_000)).origin;
    const tokenUrl = `${url}/${name.startsWith("ours") ? "oauth/token" : "token"}`;
    const tokenKind = await firstGrant(tokenUrl, basic, fixture.client, signal);
    targets.push({ name, tokenUrl, tokenKind });
  }

  const urls = new Map(targets.map((target) => [target.name, target.tokenUrl]));
  const { runs, warnings } = await alternatingRounds(
    "i",
    targets.map((target) => target.name),
    options,
    async (name, seconds) => ({
      wrk: await runWrk(urls.get(name)!, {
        connections: options.connections,
        durationSeconds: seconds,
        script,
        signal,
      }),
    }),
  );
  return {
    peerRuntime: runtime.name,
    connections: options.connections,
    targets,
    runs,
    ratios: COMPARISONS.map(([of, to]) => ratioOf(runs, of, to, options.rounds)),
    warnings,
  };
}

/** Renders part (i) as one table: grants/s per round, latency, and the ratios. */
export function renderTokenLoad(load: TokenLoad): string {
  const rows = load.targets.map((target) => {
    const runs = load.runs.filter((run) => run.target === target.name);
    const rates = runs.map((run) => run.wrk.requestsPerSecond);
    const last = runs.at(-1)!.wrk.latencyMs;
    return [
      target.name,
      target.tokenKind,
      rates.map((rate) => rate.toFixed(0)).join(" / "),
      (rates.reduce((a, b) => a + b, 0) / rates.length).toFixed(0),
      last.p50.toFixed(1),
      last.p99.toFixed(1),
    ];
  });
  const table = renderTable(
    ["server", "token", "grants/s per round", "mean", "p50 ms", "p99 ms"],
    rows,
    ["left", "left", "right", "right", "right", "right"],
  );
  const ratios = load.ratios.map((ratio) => {
    const line = `  ${ratio.of} ÷ ${ratio.to}: ${ratio.mean.toFixed(2)} (rounds ${
      ratio.perRound.map((value) => value.toFixed(2)).join(", ")
    })`;
    if (ratio.of !== TOKEN_TARGET_PAIR[0] || ratio.to !== TOKEN_TARGET_PAIR[1]) return line;
    const target = check("i", "", ratio.mean, ">=", TARGETS.tokenEs256Ratio);
    return `${line}  target >= ${target.threshold}  ${verdict(target)}`;
  });
  return [
    `(i) POST client_credentials grants, wrk -c${load.connections}, oidc-provider on ${load.peerRuntime}`,
    table,
    ...ratios,
  ].join("\n");
}

function ratioOf(runs: TokenRun[], of: string, to: string, rounds: number): TokenRatio {
  const rate = (target: string, round: number) =>
    runs.find((run) => run.target === target && run.round === round)!.wrk.requestsPerSecond;
  const perRound = Array.from({ length: rounds }, (_, i) => rate(of, i + 1) / rate(to, i + 1));
  return { of, to, perRound, mean: perRound.reduce((a, b) => a + b, 0) / perRound.length };
}

/**
 * Registers the confidential client in each database (created if absent) with one secret, as
 * `clients add` does, and returns the secret.
 */
async function registerBenchClient(fixture: Fixture, databases: string[]): Promise<string> {
  const { record, secret } = await newClientRecord({
    clientId: TOKEN_CLIENT_ID,
    redirectUris: [],
    postLogoutRedirectUris: [],
    public: false,
    firstParty: true,
    grantTypes: ["client_credentials"],
    scope: "hello",
  }, ["hello"]);
  for (const database of databases) {
    const store = await SqliteStore.open(`${fixture.dir}/${database}`);
    try {
      if (!await store.getClient(TOKEN_CLIENT_ID)) await store.addClient(record);
    } finally {
      await store.close();
    }
  }
  return secret!;
}

/** Asks for one grant and returns the token's `alg`, or "opaque"; throws unless it is a 200. */
async function firstGrant(
  tokenUrl: string,
  authorization: string,
  client: Deno.HttpClient,
  signal?: AbortSignal,
): Promise<string> {
  const deadline = AbortSignal.timeout(30_000);
  for (;;) {
    let res: Response;
    try {
      res = await fetch(tokenUrl, {
        method: "POST",
        client,
        headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      });
    } catch (error) {
      if (deadline.aborted || signal?.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    const body = await res.json();
    if (res.status !== 200 || typeof body.access_token !== "string") {
      throw new Error(`${tokenUrl} answered ${res.status}: ${JSON.stringify(body)}`);
    }
    const [header, , signature] = body.access_token.split(".");
    if (signature === undefined) return "opaque";
    return JSON.parse(new TextDecoder().decode(Uint8Array.fromBase64(header, {
      alphabet: "base64url",
    }))).alg;
  }
}

if (import.meta.main) {
  await runPartAlone({ measure: measureTokenLoad, render: renderTokenLoad }, { connections: 16 });
}
