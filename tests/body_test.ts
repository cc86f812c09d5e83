/**
 * @module
 * Request bodies at the HTTP edge: `readJsonBody` answers 415, 413, 408 and 400 for the wrong type,
 * too large, stalled, dribbled, cut-short, invalid UTF-8 or invalid JSON bodies, and `settleBody`
 * reads what is left of a body within bounds before answering, differently over HTTP/1.1 and
 * HTTP/2. On a real HTTPS server, a client that goes away mid-body is logged as a 400, never as an
 * unhandled error.
 */
import assert from "node:assert/strict";
import { readJsonBody } from "../src/http/body.ts";
import { BodyCutShortError } from "../src/http/errors.ts";
import { assertHttpError, rejectionOf } from "./helpers/errors.ts";
import { loginInTwoParts } from "./helpers/held_body.ts";
import { startTestServer } from "./helpers/server.ts";
import { sleep, waitFor } from "./helpers/wait.ts";
import { deferBodyCancel, settleBody } from "../src/http/body.ts";
import { json } from "../src/http/json.ts";

const LIMITS = { maxBytes: 1024, timeoutMs: 1000 };
const URL_ = "https://api.test/login";

function post(body: BodyInit | null, headers: Record<string, string> = {}): Request {
  return new Request(URL_, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

/** A stream that yields `chunk` forever and records how often it was pulled and cancelled. */
function endless(chunk: Uint8Array) {
  const state = { pulls: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      state.pulls++;
      controller.enqueue(chunk.slice());
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

Deno.test("readJsonBody parses a JSON object", async () => {
  const body = await readJsonBody(post('{"username":"alice","password":"pw"}'), LIMITS);
  assert.deepEqual(body, { username: "alice", password: "pw" });
});

Deno.test("readJsonBody accepts application/json; charset=utf-8", async () => {
  const req = post('{"a":"ü"}', { "content-type": "application/json; charset=utf-8" });
  assert.deepEqual(await readJsonBody(req, LIMITS), { a: "ü" });
});

Deno.test("readJsonBody accepts application/merge-patch+json and upper-case types", async () => {
  for (const type of ["application/merge-patch+json", "Application/JSON", "application/json;x=1"]) {
    assert.deepEqual(await readJsonBody(post("[1]", { "content-type": type }), LIMITS), [1]);
  }
});

Deno.test("readJsonBody answers 415 for a missing or non-JSON content type", async () => {
  const types = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/jsonp",
    "application/json-seq",
    "text/json",
    "multipart/form-data; boundary=x",
  ];
  for (const type of types) {
    await assertHttpError(
      readJsonBody(post("{}", { "content-type": type }), LIMITS),
      415,
      /Content-Type/,
    );
  }
  const untyped = new Request(URL_, { method: "POST", body: new Uint8Array([123, 125]) });
  await assertHttpError(readJsonBody(untyped, LIMITS), 415);
});

Deno.test("readJsonBody answers 415 without reading the body, which it leaves to settleBody", async () => {
  const { stream, state } = endless(new Uint8Array(100));
  const req = post(stream, { "content-type": "text/plain" });
  await assertHttpError(readJsonBody(req, LIMITS), 415);
  assert.equal(state.cancelled, false);
  assert.equal(stream.locked, false);
  assert.ok(state.pulls <= 1, `pulled ${state.pulls} chunks`);
});

Deno.test("readJsonBody answers 413 when Content-Length is over the limit, reading nothing", async () => {
  const { stream, state } = endless(new Uint8Array(100));
  const req = post(stream, { "content-length": "1025" });
  await assertHttpError(readJsonBody(req, LIMITS), 413, /1024 bytes/);
  assert.equal(state.cancelled, false, "the rest is left to settleBody");
  assert.equal(stream.locked, false);
  assert.ok(state.pulls <= 1, `pulled ${state.pulls} chunks`);
});

Deno.test("readJsonBody answers 413 for a stream of unknown length and stops reading it", async () => {
  const { stream, state } = endless(new Uint8Array(100).fill(32));
  await assertHttpError(readJsonBody(post(stream), LIMITS), 413);
  assert.equal(state.cancelled, false, "the rest is left to settleBody");
  assert.equal(stream.locked, false);
  // 11 chunks of 100 bytes pass 1024; a few more may be buffered, but not the rest.
  assert.ok(state.pulls <= 13, `pulled ${state.pulls} chunks`);
});

Deno.test("readJsonBody answers 413 when the body is larger than Content-Length said", async () => {
  const { stream, state } = endless(new Uint8Array(100).fill(32));
  await assertHttpError(readJsonBody(post(stream, { "content-length": "10" }), LIMITS), 413);
  assert.equal(state.cancelled, false, "the rest is left to settleBody");
  assert.equal(stream.locked, false);
});

Deno.test("readJsonBody accepts a body of exactly maxBytes", async () => {
  const text = JSON.stringify("a".repeat(LIMITS.maxBytes - 2));
  assert.equal(text.length, LIMITS.maxBytes);
  assert.equal(await readJsonBody(post(text), LIMITS), "a".repeat(LIMITS.maxBytes - 2));
  await assertHttpError(readJsonBody(post(`${text} `), LIMITS), 413);
});

Deno.test("readJsonBody answers 408 for a stream that stalls", async () => {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"username":'));
      // …and nothing more.
    },
    cancel() {
      cancelled = true;
    },
  });
  const started = performance.now();
  await assertHttpError(readJsonBody(post(stream), { maxBytes: 1024, timeoutMs: 100 }), 408);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 90 && elapsed < 1000, `took ${elapsed} ms`);
  assert.equal(cancelled, true);
});

Deno.test("readJsonBody answers 408 for a stream that dribbles past the deadline", async () => {
  let timer: ReturnType<typeof setInterval> | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setInterval(() => controller.enqueue(new Uint8Array([32])), 20);
    },
    cancel() {
      clearInterval(timer);
    },
  });
  try {
    await assertHttpError(readJsonBody(post(stream), { maxBytes: 1024, timeoutMs: 100 }), 408);
  } finally {
    clearInterval(timer);
  }
});

Deno.test("readJsonBody answers 400 for invalid UTF-8", async () => {
  for (const bytes of [[0x22, 0xff, 0x22], [0x22, 0xc3, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22]]) {
    await assertHttpError(readJsonBody(post(new Uint8Array(bytes)), LIMITS), 400, /UTF-8/);
  }
});

Deno.test("readJsonBody answers 400 for invalid JSON", async () => {
  for (const text of ["", "{", "{'a':1}", "undefined", '{"a":1}}', "NaN"]) {
    await assertHttpError(readJsonBody(post(text), LIMITS), 400, /JSON/);
  }
});

Deno.test("readJsonBody answers 400 for a request without a body", async () => {
  const req = new Request(URL_, {
    method: "POST",
    headers: { "content-type": "application/json" },
  });
  await assertHttpError(readJsonBody(req, LIMITS), 400, /JSON/);
});

Deno.test("readJsonBody joins a body that arrives in many chunks", async () => {
  const bytes = new TextEncoder().encode('{"name":"Zoë 🦕"}');
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      // One byte at a time, splitting the multi-byte characters.
      for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
      controller.close();
    },
  });
  assert.deepEqual(await readJsonBody(post(stream), LIMITS), { name: "Zoë 🦕" });
});

// settleBody: what is left of a body is read before answering, within bounds.

const SETTLE_LIMITS = { maxBytes: 1024, timeoutMs: 100 };

/** A body of `chunks` chunks of `size` bytes (endless when `chunks` is Infinity), with counters. */
function source(size: number, chunks = Infinity) {
  const state = { bytes: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.bytes >= size * chunks) return controller.close();
      state.bytes += size;
      controller.enqueue(new Uint8Array(size));
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

function request(body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Request {
  return new Request("https://api.test/login", { method: "POST", body, headers });
}

Deno.test("settleBody reads a body within the limit to its end before answering", async () => {
  const { stream, state } = source(100, 5);
  const answer = json({ msg: "Not found" }, { status: 404 });
  const res = await settleBody(request(stream), answer, SETTLE_LIMITS);
  assert.equal(res, answer, "the answer goes out as it is");
  assert.equal(state.bytes, 500);
  assert.equal(state.cancelled, false);
});

Deno.test("settleBody over HTTP/2 answers a larger body at once and drops at most 64 × maxBytes more", async () => {
  const { stream, state } = source(256);
  const req = request(stream, { "content-length": "100000000" });
  const res = await settleBody(req, json({ msg: "Too large" }, { status: 413 }), SETTLE_LIMITS);
  assert.equal(res.status, 413);
  assert.equal(res.headers.get("content-length"), String('{"msg":"Too large"}'.length));
  // The answer's end waits for the deadline, since this client never stops sending.
  assert.deepEqual(await res.json(), { msg: "Too large" });
  assert.equal(state.cancelled, true);
  assert.ok(state.bytes <= 64 * 1024 + 256, `read ${state.bytes} bytes`);
});

Deno.test("settleBody over HTTP/2 ends the held answer when the body ends", async () => {
  const { stream, state } = source(1000, 20);
  const req = request(stream, { "content-length": "20000" });
  const res = await settleBody(req, json({ msg: "Too large" }, { status: 413 }), SETTLE_LIMITS);
  assert.deepEqual(await res.json(), { msg: "Too large" });
  assert.equal(state.bytes, 20_000);
  assert.equal(state.cancelled, false);
});

Deno.test("settleBody over HTTP/1.1 (a Host header) answers a larger body at once, reading nothing", async () => {
  const { stream, state } = source(256);
  const req = request(stream, { host: "api.test", "content-length": "100000000" });
  const answer = json({ msg: "Too large" }, { status: 413 });
  assert.equal(await settleBody(req, answer, SETTLE_LIMITS), answer);
  assert.equal(state.cancelled, true);
  assert.ok(state.bytes <= 256, `read ${state.bytes} bytes`);
});

Deno.test("settleBody gives up on a body that stalls at the deadline", async () => {
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(10));
    },
    cancel() {
      cancelled = true;
    },
  });
  const answer = json({ msg: "Not found" }, { status: 404 });
  assert.equal(await settleBody(request(stream), answer, SETTLE_LIMITS), answer);
  assert.equal(cancelled, true);
});

Deno.test("settleBody leaves alone a body that was read or timed out", async () => {
  const read = source(10, 2);
  const req = request(read.stream, { "content-type": "application/json" });
  await assert.rejects(readJsonBody(req, SETTLE_LIMITS));
  const answer = json({ msg: "Bad" }, { status: 400 });
  assert.equal(await settleBody(req, answer, SETTLE_LIMITS), answer);

  const stalled = new ReadableStream<Uint8Array>({ start() {} });
  const slow = request(stalled, { "content-type": "application/json" });
  await assert.rejects(readJsonBody(slow, SETTLE_LIMITS), { status: 408 });
  assert.equal(await settleBody(slow, answer, SETTLE_LIMITS), answer);
});

Deno.test("deferBodyCancel leaves a cancelled body for settleBody to read", async () => {
  const { stream, state } = source(100, 3);
  const req = request(stream);
  deferBodyCancel(req.body!);
  await req.body!.cancel();
  assert.equal(state.cancelled, false);
  await settleBody(req, json({ msg: "Successfully logged out" }), SETTLE_LIMITS);
  assert.equal(state.bytes, 300);
});

Deno.test("readJsonBody answers 400 (BodyCutShortError) when the connection ends mid-body", async () => {
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new Deno.errors.BadResource("Cannot read request body"));
    },
  });
  const error = await rejectionOf(readJsonBody(post(stream), LIMITS), BodyCutShortError);
  assert.equal(error.status, 400);
});

Deno.test("a client that goes away mid-body is logged as a 400, not as an unhandled error", async () => {
  await using server = await startTestServer();
  {
    using login = await loginInTwoParts(server.url, server.certPem, {
      username: "user1",
      password: "wrong-password",
    });
    await sleep(200); // the head and half the body have arrived
    login.close();
    await rejectionOf(login.answer, Error);
  }
  const line = await waitFor(
    "the login's access-log line",
    () => server.logs.find((line) => line.msg === "request" && line.path === "/login"),
  );
  assert.equal(line.status, 400);
  assert.deepEqual(server.logs.filter((line) => line.level === "error"), []);
});
