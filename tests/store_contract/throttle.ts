/**
 * @module
 * The accounts part of the store contract, its login throttling (the one atomic step
 * updateThrottles, also racing, behind auth/accounts/throttle.ts) and the service's own secrets
 * (ensureSecret, which keys the device tokens).
 */
import assert from "node:assert/strict";
import { type ContractContext, increment, readThrottle, reserve, writeThrottle } from "./setup.ts";

/** Registers the throttling and secrets cases of the accounts part. */
export function throttleContract({ test }: ContractContext): void {
  // --- throttle ---

  test("updateThrottles gives decide no state for keys never written", async (store) => {
    const seen = await store.updateThrottles(["account:alice", "address:192.0.2.1"], (current) => ({
      writes: {},
      result: [...current.entries()],
    }));
    assert.deepEqual(seen, []);
    assert.equal(await readThrottle(store, "account:alice"), undefined);
  });

  test("updateThrottles stores the writes, returns the result, and later calls see them", async (store) => {
    const first = { failures: 1, windowStartAt: 1_000, blockedUntil: 0 };
    const second = { failures: 7, windowStartAt: 2_000, blockedUntil: 3_000 };
    const result = await store.updateThrottles(["account:alice", "address:a"], () => ({
      writes: { "account:alice": first, "address:a": second },
      result: "stored",
    }));
    assert.equal(result, "stored");
    const seen = await store.updateThrottles(
      ["address:a", "account:alice", "account:bob"],
      (c) => ({
        writes: {},
        result: Object.fromEntries(c),
      }),
    );
    assert.deepEqual(seen, { "account:alice": first, "address:a": second });
    await store.updateThrottles(["account:alice"], (current) => ({
      writes: { "account:alice": { ...current.get("account:alice")!, failures: 2 } },
      result: 0,
    }));
    assert.deepEqual(await readThrottle(store, "account:alice"), { ...first, failures: 2 });
    assert.deepEqual(await readThrottle(store, "address:a"), second, "unwritten keys keep state");
  });

  test("updateThrottles forgets a key written as null, also one that has no state", async (store) => {
    await writeThrottle(store, "account:alice", { failures: 4, windowStartAt: 1, blockedUntil: 0 });
    await writeThrottle(store, "account:bob", { failures: 2, windowStartAt: 1, blockedUntil: 0 });
    await store.updateThrottles(["account:alice", "account:nobody"], () => ({
      writes: { "account:alice": null, "account:nobody": null },
      result: 0,
    }));
    assert.equal(await readThrottle(store, "account:alice"), undefined);
    assert.equal(await readThrottle(store, "account:nobody"), undefined);
    assert.equal((await readThrottle(store, "account:bob"))?.failures, 2);
  });

  test("updateThrottles keeps large timestamps exactly", async (store) => {
    const state = {
      failures: 3,
      windowStartAt: 4_102_444_800_123,
      blockedUntil: 4_102_444_900_456,
    };
    await writeThrottle(store, "address:203.0.113.1", state);
    assert.deepEqual(await readThrottle(store, "address:203.0.113.1"), state);
  });

  test("updateThrottles keeps a record's reservations in their order, exactly, and a record without any has none", async (store) => {
    const held = {
      failures: 2,
      windowStartAt: 1_000,
      blockedUntil: 0,
      reservedUntil: [4_102_444_800_123, 1_030, 1_030],
    };
    const plain = { failures: 1, windowStartAt: 1_000, blockedUntil: 0 };
    await store.updateThrottles(["account:alice", "address:a"], () => ({
      writes: { "account:alice": held, "address:a": plain },
      result: 0,
    }));
    assert.deepEqual(await readThrottle(store, "account:alice"), held);
    assert.deepEqual(await readThrottle(store, "address:a"), plain, "no reservedUntil field");
  });

  test("updateThrottles forgets the reservations a write leaves out", async (store) => {
    await writeThrottle(store, "account:alice", {
      failures: 0,
      windowStartAt: 1,
      blockedUntil: 0,
      reservedUntil: [31, 32],
    });
    await writeThrottle(store, "account:alice", { failures: 1, windowStartAt: 2, blockedUntil: 0 });
    assert.deepEqual(await readThrottle(store, "account:alice"), {
      failures: 1,
      windowStartAt: 2,
      blockedUntil: 0,
    });
  });

  test("updateThrottles stores nothing when decide throws and stays usable", async (store) => {
    await writeThrottle(store, "account:bob", { failures: 1, windowStartAt: 1, blockedUntil: 0 });
    const boom = new Error("Boom");
    // An implementation may throw or reject; callers always await.
    await assert.rejects(
      async () =>
        await store.updateThrottles(["account:alice", "account:bob"], () => {
          throw boom;
        }),
      (error) => error === boom,
    );
    assert.equal(await readThrottle(store, "account:alice"), undefined);
    assert.equal((await readThrottle(store, "account:bob"))?.failures, 1);
    await writeThrottle(store, "account:alice", { failures: 1, windowStartAt: 1, blockedUntil: 0 });
    assert.equal((await readThrottle(store, "account:alice"))?.failures, 1);
  });

  test("updateThrottles refuses a write to a key it did not read and stores nothing", async (store) => {
    const record = { failures: 1, windowStartAt: 1, blockedUntil: 0 };
    await assert.rejects(
      async () =>
        await store.updateThrottles(["account:alice"], () => ({
          writes: { "account:alice": record, "account:bob": record },
          result: 0,
        })),
      /Throttle key "account:bob" was not read first/,
    );
    assert.equal(await readThrottle(store, "account:alice"), undefined);
    assert.equal(await readThrottle(store, "account:bob"), undefined);
  });

  test("updateThrottles keeps keys apart", async (store) => {
    await writeThrottle(store, "account:alice", { failures: 1, windowStartAt: 1, blockedUntil: 0 });
    await writeThrottle(store, "address:alice", { failures: 7, windowStartAt: 2, blockedUntil: 3 });
    assert.equal((await readThrottle(store, "account:alice"))?.failures, 1);
    assert.equal((await readThrottle(store, "address:alice"))?.failures, 7);
    assert.equal(await readThrottle(store, "account:bob"), undefined);
  });

  test("updateThrottles counts every one of many concurrent updates of overlapping keys", async (store) => {
    // Each call increments a shared key and one of three others, in varying order.
    await Promise.all(Array.from({ length: 60 }, (_, i) => {
      const keys = i % 2 ? ["shared", `k${i % 3}`] : [`k${i % 3}`, "shared"];
      return increment(store, keys);
    }));
    assert.equal((await readThrottle(store, "shared"))?.failures, 60);
    for (let k = 0; k < 3; k++) assert.equal((await readThrottle(store, `k${k}`))?.failures, 20);
  });

  test("updateThrottles lets exactly the budget through when many reserve at once", async (store) => {
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, () => reserve(store, ["account:alice"], 5)),
    );
    assert.equal(outcomes.filter(Boolean).length, 5);
    assert.equal((await readThrottle(store, "account:alice"))?.failures, 5);
  });

  // --- secrets ---

  test("ensureSecret keeps the first candidate and returns it to every later caller", async (store) => {
    assert.equal(await store.ensureSecret("device", "first"), "first");
    assert.equal(await store.ensureSecret("device", "second"), "first");
    assert.equal(await store.ensureSecret("other", "third"), "third", "names are apart");
    const raced = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.ensureSecret("raced", `candidate-${i}`)),
    );
    assert.equal(new Set(raced).size, 1, JSON.stringify(raced));
  });
}
