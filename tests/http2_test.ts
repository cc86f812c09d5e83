/**
 * @module
 * Early answers over HTTP/2 on a real HTTPS server: answers given before the request body is read
 * (a wrong content type, an oversized or streamed body, an unknown path, a handler with no use for
 * the body) must reach the client whole, over many rounds with Deno's fetch and with curl, both
 * limited to HTTP/2, since curl 7.88 loses an answer whose stream is reset while it still sends.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CURL, testNeeding } from "./helpers/prerequisites.ts";
import { runProgram } from "./helpers/process.ts";
import { login, startTestServer, type TestServer } from "./helpers/server.ts";

// Answers given before the request body has been read (wrong content type, oversized body,
// unknown path, a handler that has no use for the body) must reach HTTP/2 clients too. curl
// 7.88 loses such an answer when the stream is reset while it is still sending, so every case
// runs many rounds with curl and with Deno's fetch, both limited to HTTP/2.

const USERS = { user1: "password1" };
const ROUNDS = 20;
const LIMIT = 16 * 1024;
const TOO_LARGE = { msg: `Request body is larger than ${LIMIT} bytes` };

type Json = Record<string, unknown>;

/** One kind of request and the answer every round must get. */
interface Case {
  name: string;
  method: string;
  path: string;
  contentType?: string;
  /** The body; sent with a Content-Length unless `streamed`. */
  body: Uint8Array;
  /** Sent as a stream of unknown length (curl: `-T -`; fetch: a ReadableStream). */
  streamed?: boolean;
  /** Extra headers for one round, such as a fresh access token. */
  headers?: (server: TestServer) => Promise<Record<string, string>>;
  status: number;
  answer: Json;
  /**
   * Rounds with fetch, when fewer than `ROUNDS`: past 1 MiB the answer to a client that keeps
   * sending ends only at the edge's 1 s body deadline.
   */
  fetchRounds?: number;
}

/** The outcome of one round. */
interface Round {
  status?: number;
  answer?: unknown;
  /** Why the round did not produce an answer (client error). */
  failure?: string;
}

const encoder = new TextEncoder();

function jsonBody(padding: number): Uint8Array {
  return encoder.encode(JSON.stringify({ username: "user1", password: "x".repeat(padding) }));
}

const CASES: Case[] = [
  {
    name: "a form-encoded body to /login is 415",
    method: "POST",
    path: "/login",
    contentType: "application/x-www-form-urlencoded",
    body: encoder.encode('{"username":"user1","password":"password1"}'),
    status: 415,
    answer: { msg: "Content-Type must be application/json" },
  },
  {
    name: "a JSON body to /oauth/token is 415",
    method: "POST",
    path: "/oauth/token",
    contentType: "application/json",
    body: encoder.encode('{"grant_type":"password","username":"user1","password":"password1"}'),
    status: 415,
    answer: {
      error: "invalid_request",
      error_description: "Content-Type must be application/x-www-form-urlencoded",
    },
  },
  {
    name: "a body just over the limit to /login, with Content-Length, is 413",
    method: "POST",
    path: "/login",
    contentType: "application/json",
    body: jsonBody(LIMIT + 4000),
    status: 413,
    answer: TOO_LARGE,
  },
  {
    name: "a 1 MB body to /login, with Content-Length, is 413",
    method: "POST",
    path: "/login",
    contentType: "application/json",
    body: jsonBody(1_000_000),
    status: 413,
    answer: TOO_LARGE,
  },
  {
    name: "a 4 MB body to /login, with Content-Length, is 413",
    method: "POST",
    path: "/login",
    contentType: "application/json",
    body: jsonBody(4_000_000),
    status: 413,
    answer: TOO_LARGE,
    fetchRounds: 3,
  },
  {
    name: "a streamed 64 KiB body to /login is 413",
    method: "POST",
    path: "/login",
    contentType: "application/json",
    body: jsonBody(64 * 1024),
    streamed: true,
    status: 413,
    answer: TOO_LARGE,
  },
  {
    name: "a streamed 1 MB body to /login is 413",
    method: "POST",
    path: "/login",
    contentType: "application/json",
    body: jsonBody(1_000_000),
    streamed: true,
    status: 413,
    answer: TOO_LARGE,
  },
  {
    name: "a streamed 4 MB body to /login is 413",
    method: "POST",
    path: "/login",
    contentType: "application/json",
    body: jsonBody(4_000_000),
    streamed: true,
    status: 413,
    answer: TOO_LARGE,
    fetchRounds: 3,
  },
  {
    name: "a body to an unknown path is 404",
    method: "POST",
    path: "/nope",
    contentType: "application/json",
    body: encoder.encode('{"hello":"world"}'),
    status: 404,
    answer: { msg: "Not found" },
  },
  {
    name: "a body with a method the path does not take is 405",
    method: "PUT",
    path: "/login",
    contentType: "application/json",
    body: encoder.encode('{"username":"user1","password":"password1"}'),
    status: 405,
    answer: { msg: "Method not allowed" },
  },
  {
    name: "/logout with a token and a body it does not read is 200",
    method: "POST",
    path: "/logout",
    contentType: "application/json",
    body: encoder.encode('{"all":true}'),
    headers: async (server) => {
      const { body } = await login(server, "user1", "password1");
      return { authorization: `Bearer ${body.access_token}` };
    },
    status: 200,
    answer: { msg: "Successfully logged out" },
  },
  {
    name: "/refresh with a Bearer token and a body it does not read answers",
    method: "POST",
    path: "/refresh",
    contentType: "application/json",
    body: encoder.encode('{"refresh_token":"ignored"}'),
    headers: () => Promise.resolve({ authorization: `Bearer ${"A".repeat(43)}` }),
    status: 400,
    answer: { msg: "Invalid refresh token", error: "invalid_grant" },
  },
];

/** Sends `body` in 16 KiB chunks, as a stream of unknown length. */
function chunked(body: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= body.byteLength) return controller.close();
      controller.enqueue(body.slice(offset, offset + 16 * 1024));
      offset += 16 * 1024;
    },
  });
}

async function viaFetch(server: TestServer, client: Deno.HttpClient, c: Case): Promise<Round> {
  const headers: Record<string, string> = { ...await c.headers?.(server) };
  if (c.contentType) headers["content-type"] = c.contentType;
  try {
    const res = await fetch(`${server.url}${c.path}`, {
      method: c.method,
      client,
      headers,
      body: c.streamed ? chunked(c.body) : c.body,
      duplex: "half",
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, answer: JSON.parse(text) };
  } catch (error) {
    return { failure: String(error instanceof Error && error.cause ? error.cause : error) };
  }
}

async function viaCurl(server: TestServer, caFile: string, bodyFile: string, c: Case) {
  const args = ["-sS", "--http2", "--cacert", caFile, "-X", c.method, "-o", "-"];
  args.push("-w", "\n%{http_version} %{http_code}");
  for (const [name, value] of Object.entries(await c.headers?.(server) ?? {})) {
    args.push("-H", `${name}: ${value}`);
  }
  if (c.contentType) args.push("-H", `content-type: ${c.contentType}`);
  args.push(...(c.streamed ? ["-T", "-"] : ["--data-binary", `@${bodyFile}`]));
  args.push(`${server.url}${c.path}`);
  // curl may stop reading a streamed body once it has the answer; what it did not take does not
  // matter.
  const output = await runProgram("curl", args, c.streamed ? { stdin: c.body } : {});
  const stdout = output.stdout;
  if (output.code !== 0) return { failure: `curl exit ${output.code}: ${output.stderr.trim()}` };
  const cut = stdout.lastIndexOf("\n");
  const [version, status] = stdout.slice(cut + 1).split(" ");
  if (version !== "2") return { failure: `curl spoke HTTP/${version}` };
  try {
    return { status: Number(status), answer: JSON.parse(stdout.slice(0, cut)) };
  } catch {
    return { failure: `Answer is not JSON: ${stdout.slice(0, 200)}` };
  }
}

/** Runs `rounds` rounds and fails listing the rounds that did not get the expected answer. */
async function assertEveryRound(
  c: Case,
  rounds: number,
  round: () => Promise<Round>,
): Promise<void> {
  const wrong: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const result = await round();
    if (result.failure) wrong.push(`round ${i + 1}: ${result.failure}`);
    else if (result.status !== c.status) wrong.push(`round ${i + 1}: status ${result.status}`);
    else {
      try {
        assert.deepEqual(result.answer, c.answer);
      } catch {
        wrong.push(`round ${i + 1}: answer ${JSON.stringify(result.answer)}`);
      }
    }
  }
  assert.equal(
    wrong.length,
    0,
    `${wrong.length} of ${rounds} rounds went wrong:\n${wrong.slice(0, 5).join("\n")}`,
  );
}

Deno.test("Deno's fetch over HTTP/2 gets every early answer", async (t) => {
  await using server = await startTestServer({ users: USERS });
  const client = Deno.createHttpClient({ caCerts: [server.certPem], http2: true, http1: false });
  try {
    for (const c of CASES) {
      const rounds = c.fetchRounds ?? ROUNDS;
      await t.step(c.name, () => assertEveryRound(c, rounds, () => viaFetch(server, client, c)));
    }
  } finally {
    client.close();
  }
});

testNeeding([CURL], {
  name: "curl --http2 gets every early answer",
  async fn(t) {
    await using server = await startTestServer({ users: USERS });
    const caFile = join(server.dir, "trusted-cert.pem");
    await Deno.writeTextFile(caFile, server.certPem);
    for (const [index, c] of CASES.entries()) {
      const bodyFile = join(server.dir, `body-${index}`);
      await Deno.writeFile(bodyFile, c.body);
      await t.step(
        c.name,
        () => assertEveryRound(c, ROUNDS, () => viaCurl(server, caFile, bodyFile, c)),
      );
    }
  },
});
