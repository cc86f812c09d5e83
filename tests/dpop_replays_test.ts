/**
 * @module
 * The DPoP replay cache: a proof (key thumbprint and `jti`) is accepted once, by the instance's
 * memory and by the store alike; a full memory forgets, the store does not.
 */
import assert from "node:assert/strict";
import { DpopReplays } from "../src/auth/tokens/dpop_replays.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

const NOW = 1_900_000_000;
const WINDOW = { expiresAt: NOW + 61, now: NOW };

Deno.test("DpopReplays: a proof is accepted once, also after the instance's memory forgot it", async () => {
  const store = await SqliteStore.open(":memory:");
  try {
    const replays = new DpopReplays(store, 2);
    assert.equal(await replays.firstUse("k1", "j1", WINDOW), true);
    assert.equal(await replays.firstUse("k1", "j1", WINDOW), false);
    assert.equal(await replays.firstUse("k2", "j1", WINDOW), true, "the same jti of another key");
    await replays.firstUse("k1", "j2", WINDOW);
    await replays.firstUse("k1", "j3", WINDOW);
    assert.equal(await replays.firstUse("k1", "j1", WINDOW), false, "the store remembers");
    const other = new DpopReplays(store);
    assert.equal(await other.firstUse("k1", "j3", WINDOW), false, "another instance");
    const later = { expiresAt: NOW + 200, now: NOW + 100 };
    assert.equal(await other.firstUse("k1", "j1", later), true, "after its window, a new proof");
  } finally {
    await store.close();
  }
});
