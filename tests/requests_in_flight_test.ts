/**
 * The count of requests a listener is answering, which a shutdown waits on: an answer given at
 * once is never counted, an answer still coming is counted until it is ready (resolved or
 * rejected), and `settled` waits for exactly those or gives up after its timeout.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RequestsInFlight } from "../src/http/in_flight.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

function request(): Request {
  return new Request("https://api.test/hello");
}

Deno.test("RequestsInFlight: an answer given at once leaves nothing in flight, and settled resolves at once", async () => {
  const inFlight = new RequestsInFlight();
  const ready = new Response("hello");
  const answer = inFlight.track(() => ready)(request(), INFO);
  assert.equal(answer, ready, "the very answer, not a promise of it");
  assert.equal(inFlight.size, 0);
  assert.equal(await inFlight.settled(0), true);
});

Deno.test("RequestsInFlight: an answer still coming is counted until it is ready or fails, and settled waits for it", async () => {
  const inFlight = new RequestsInFlight();
  const answers = [Promise.withResolvers<Response>(), Promise.withResolvers<Response>()];
  let next = 0;
  const handler = inFlight.track(() => answers[next++].promise);
  const first = handler(request(), INFO);
  const second = handler(request(), INFO);
  assert.equal(inFlight.size, 2);
  assert.equal(await inFlight.settled(10), false, "gives up after its timeout");
  answers[0].resolve(new Response("ok"));
  await first;
  assert.equal(inFlight.size, 1);
  const settled = inFlight.settled(5000);
  answers[1].reject(new Error("handler failed"));
  await assert.rejects(Promise.resolve(second), /handler failed/);
  assert.equal(await settled, true);
  assert.equal(inFlight.size, 0);
});
