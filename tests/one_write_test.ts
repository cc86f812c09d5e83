/**
 * @module
 * {@linkcode inOneWrite}: which answers it leaves to Deno's fixed-length path and which it sends
 * as a one-chunk stream, and, against the real runtime over HTTPS, that every body size with
 * every head size then reaches a kept-alive client without the delayed-ACK stall.
 */
import assert from "node:assert/strict";
import { inOneWrite, laterHeaders, textResponse } from "../src/http/one_write.ts";
import { edgeHeaders } from "./helpers/edge_headers.mjs";
import { median, PYTHON, timeKeptAlive } from "./helpers/kept_alive_client.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { serveTls, testCertificate } from "./helpers/tls.ts";

/** The headers the edge sets on every answer. */
function withEdgeHeaders(res: Response): Response {
  for (const [name, value] of Object.entries(edgeHeaders())) res.headers.set(name, value);
  return res;
}

Deno.test("inOneWrite leaves a small answer (a /hello greeting) on the fixed-length path", () => {
  const res = withEdgeHeaders(
    textResponse(JSON.stringify({ message: "Hello, user1! You're authenticated." })),
  );
  assert.equal(inOneWrite(res), res);
});

Deno.test("inOneWrite sends a body that would not share the head's buffer as a one-chunk stream, status and headers kept", async () => {
  const text = JSON.stringify({ keys: "k".repeat(600) });
  const original = withEdgeHeaders(textResponse(text, { status: 201 }));
  original.headers.append("set-cookie", "a=1");
  original.headers.append("set-cookie", "b=2");
  const res = inOneWrite(original);
  assert.notEqual(res, original);
  assert.equal(res.status, 201);
  assert.deepEqual([...res.headers], [...original.headers]);
  assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(res.headers.get("content-length"), null, "a stream goes out chunked");
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), text, "the whole body is one chunk");
  assert.equal((await reader.read()).done, true);
});

Deno.test("inOneWrite counts a body's UTF-8 bytes, not its characters", () => {
  // 60 characters fit beside these headers; 60 "é" are 120 bytes, which do not.
  const ascii = withEdgeHeaders(textResponse("e".repeat(60)));
  assert.equal(inOneWrite(ascii), ascii);
  const accented = withEdgeHeaders(textResponse("é".repeat(60)));
  assert.notEqual(inOneWrite(accented), accented);
});

Deno.test("inOneWrite counts every header: a small body beside a head just under 512 bytes is streamed", () => {
  const res = withEdgeHeaders(textResponse('{"msg":"Token has expired"}'));
  assert.equal(inOneWrite(res), res);
  const challenged = withEdgeHeaders(textResponse('{"msg":"Token has expired"}'));
  challenged.headers.set("www-authenticate", `Bearer realm="api", ${"x".repeat(40)}`);
  assert.notEqual(inOneWrite(challenged), challenged);
  // A head over 512 bytes finds the buffer grown to 1024, with room for the body again.
  const large = withEdgeHeaders(textResponse('{"msg":"Token has expired"}'));
  large.headers.set("www-authenticate", `Bearer realm="api", ${"x".repeat(200)}`);
  assert.equal(inOneWrite(large), large);
});

/** The edge's headers, set after `inOneWrite`. */
const EDGE_LATER = laterHeaders({
  "x-request-id": crypto.randomUUID(),
  "strict-transport-security": "max-age=63072000",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
}, {
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
});

Deno.test("inOneWrite counts headers set after it as if they were there, a replaced one once", () => {
  for (const bytes of [20, 60, 80, 100, 120, 600]) {
    const text = "b".repeat(bytes);
    const whole = withEdgeHeaders(textResponse(text));
    const streamedWhole = inOneWrite(whole) !== whole;
    const bare = textResponse(text);
    bare.headers.set("content-type", "application/json; charset=utf-8");
    bare.headers.set("x-frame-options", "SAMEORIGIN");
    assert.equal(inOneWrite(bare, EDGE_LATER) !== bare, streamedWhole, `${bytes} bytes`);
  }
});

Deno.test("inOneWrite leaves answers it did not build, and empty ones, untouched", () => {
  const foreign = withEdgeHeaders(new Response("x".repeat(5000)));
  assert.equal(inOneWrite(foreign), foreign);
  const empty = withEdgeHeaders(textResponse(""));
  assert.equal(inOneWrite(empty), empty);
  const none = new Response(null, { status: 204 });
  assert.equal(inOneWrite(none), none);
});

/** Body sizes from a greeting to most of a TLS record, and head paddings from none to 1.5 KB. */
const BODY_BYTES = [1, 40, 110, 200, 400, 700, 1500, 4000, 12000];
const HEAD_PADDING = [0, 60, 110, 300, 600, 1500];
/**
 * A stalled answer waits for the client's delayed ACK, at least 40 ms on Linux; a busy machine
 * (CI runs several suites at once) can slow a sound answer to 15 ms, so the line sits between.
 */
const STALL_MS = 30;

testNeeding([PYTHON], {
  name:
    "every body size beside every head size reaches a kept-alive client without the delayed-ACK stall, through Deno.serve over TLS",
  async fn() {
    const { certPem } = await testCertificate();
    await using temp = await tempDir();
    await using server = await serveTls((req) => {
      const query = new URL(req.url).searchParams;
      const res = withEdgeHeaders(textResponse("b".repeat(Number(query.get("body")))));
      const padding = Number(query.get("padding"));
      if (padding > 0) res.headers.set("x-padding", "p".repeat(padding));
      return inOneWrite(res);
    });
    // The head buffer of a connection only grows: growing heads find it at its smallest.
    const requests = HEAD_PADDING.flatMap((padding) =>
      BODY_BYTES.map((body) => ({
        name: `${body} bytes beside ${padding} bytes of padding`,
        path: `/?body=${body}&padding=${padding}`,
      }))
    );
    const timings = await timeKeptAlive(requests, {
      url: `https://localhost:${server.addr.port}`,
      caPem: certPem,
      dir: temp.path,
      rounds: 5,
    });
    const slow = timings.filter((timing) => median(timing.timesMs) >= STALL_MS)
      .map((timing) => `${timing.name}: p50 ${median(timing.timesMs).toFixed(1)} ms`);
    assert.deepEqual(slow, []);
    assert.ok(timings.every((timing) => timing.statuses.join() === "200"));
  },
});
