/**
 * @module
 * DPoP nonces: made from a key in the store, so that two instances make and accept the same ones;
 * accepted during their slot and the next, never later, and never when forged.
 */
import assert from "node:assert/strict";
import { DPOP_NONCE_SLOT_SECONDS, DpopNonces } from "../src/auth/tokens/dpop_nonces.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

const T = 1_900_000_020;

Deno.test("DpopNonces: a nonce is accepted in its slot and the next, then refused", async () => {
  await using store = await openStore();
  const nonces = await DpopNonces.open(store);
  const nonce = await nonces.current(T);
  assert.equal(await nonces.current(T + 1), nonce, "one nonce per slot");
  assert.equal(await nonces.accepts(nonce, T), true);
  assert.equal(await nonces.accepts(nonce, T + DPOP_NONCE_SLOT_SECONDS), true);
  assert.equal(await nonces.accepts(nonce, T + 2 * DPOP_NONCE_SLOT_SECONDS), false);
  assert.equal(await nonces.accepts(nonce, T - DPOP_NONCE_SLOT_SECONDS), false, "not before");
  assert.notEqual(await nonces.current(T + DPOP_NONCE_SLOT_SECONDS), nonce, "rotated");
});

Deno.test("DpopNonces: instances on one store share nonces; forged ones are refused", async () => {
  await using store = await openStore();
  const [a, b] = await Promise.all([DpopNonces.open(store), DpopNonces.open(store)]);
  const nonce = await a.current(T);
  assert.equal(await b.accepts(nonce, T), true);
  const [slot, mac] = nonce.split(".");
  const flipped = `${slot}.${mac[0] === "A" ? "B" : "A"}${mac.slice(1)}`;
  const later = `${(parseInt(slot, 36) + 1).toString(36)}.${mac}`;
  for (const forged of [flipped, later, "", "x.y", `${nonce}.`, 42, undefined]) {
    assert.equal(await b.accepts(forged, T), false, String(forged));
  }
  await using other = await openStore();
  assert.equal(await (await DpopNonces.open(other)).accepts(nonce, T), false, "another key");
});

async function openStore() {
  const store = await SqliteStore.open(":memory:");
  return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
}
