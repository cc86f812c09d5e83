/**
 * @module
 * The sign-in part of the store contract, its pushed requests: authorization requests pushed by
 * clients (RFC 9126), capped per address, taken once by their own client before they expire, also
 * when many callers on several connections race for one, and pruned once expired; and the clients
 * that must push.
 */
import assert from "node:assert/strict";
import type { PushedRequestRecord } from "../../src/store/store.ts";
import { clientRecord, type ContractContext, NOW } from "./setup.ts";

/** A request pushed by "app" at NOW, valid for a minute. */
function pushedRecord(
  idHash: string,
  fields: Partial<PushedRequestRecord> = {},
): PushedRequestRecord {
  return {
    idHash,
    clientId: "app",
    parameters: JSON.stringify({ values: [["scope", "openid"]], repeated: [] }),
    address: null,
    createdAt: NOW,
    expiresAt: NOW + 60,
    usedAt: null,
    ...fields,
  };
}

/** Registers the pushed-requests cases. */
export function pushedRequestsContract({ test, testReopening }: ContractContext): void {
  test("takePushedRequest takes a pushed request once, with every field", async (store) => {
    const record = pushedRecord("p1", {
      parameters: '{"values":[["state","Zoë 🦕 \'"]]}',
      address: "2001:db8::/56",
    });
    await store.addPushedRequest(record);
    assert.deepEqual(await store.takePushedRequest("p1", "app", NOW + 5), {
      outcome: "taken",
      record: { ...record, usedAt: NOW + 5 },
    });
    assert.deepEqual(await store.takePushedRequest("p1", "app", NOW + 6), { outcome: "used" });
  });

  test("takePushedRequest refuses another client's request and leaves it to its own", async (store) => {
    await store.addPushedRequest(pushedRecord("p1"));
    assert.deepEqual(await store.takePushedRequest("p1", "other", NOW + 1), {
      outcome: "other_client",
    });
    assert.equal((await store.takePushedRequest("p1", "app", NOW + 2)).outcome, "taken");
  });

  test("takePushedRequest refuses an expired request and knows no unknown one", async (store) => {
    await store.addPushedRequest(pushedRecord("p1"));
    assert.deepEqual(await store.takePushedRequest("p1", "app", NOW + 60), { outcome: "expired" });
    assert.deepEqual(await store.takePushedRequest("p2", "app", NOW), { outcome: "unknown" });
  });

  test("takePushedRequest from 8 concurrent callers gives the request to exactly one", async (store) => {
    await store.addPushedRequest(pushedRecord("p1"));
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => store.takePushedRequest("p1", "app", NOW + 1)),
    );
    assert.equal(outcomes.filter((result) => result.outcome === "taken").length, 1);
    assert.equal(outcomes.filter((result) => result.outcome === "used").length, 7);
  });

  test("pruneExpired deletes expired pushed requests, used or not, and keeps live ones", async (store) => {
    await store.addPushedRequest(pushedRecord("old", { expiresAt: NOW + 10 }));
    await store.addPushedRequest(pushedRecord("old-used", { expiresAt: NOW + 10 }));
    await store.takePushedRequest("old-used", "app", NOW + 1);
    await store.addPushedRequest(pushedRecord("live"));
    await store.pruneExpired(NOW + 10);
    assert.deepEqual(await store.takePushedRequest("old", "app", NOW + 10), { outcome: "unknown" });
    assert.deepEqual(await store.takePushedRequest("old-used", "app", NOW + 10), {
      outcome: "unknown",
    });
    assert.equal((await store.takePushedRequest("live", "app", NOW + 10)).outcome, "taken");
  });

  test("addPushedRequest with a cap stores an address's requests up to it, then says when a place frees", async (store) => {
    const at = (id: string, fields: Partial<PushedRequestRecord> = {}) =>
      pushedRecord(id, { address: "203.0.113.5", ...fields });
    await store.addPushedRequest(at("old", { createdAt: NOW - 60, expiresAt: NOW }), 2);
    assert.deepEqual(await store.addPushedRequest(at("a", { expiresAt: NOW + 30 }), 2), {
      added: true,
    });
    assert.deepEqual(await store.addPushedRequest(at("b"), 2), { added: true });
    assert.deepEqual(await store.addPushedRequest(at("c"), 2), { added: false, freeAt: NOW + 30 });
    assert.deepEqual(await store.takePushedRequest("old", "app", NOW), { outcome: "unknown" });
    assert.deepEqual(await store.takePushedRequest("c", "app", NOW), { outcome: "unknown" });
    assert.deepEqual(await store.addPushedRequest(at("d", { address: "198.51.100.7" }), 2), {
      added: true,
    });
    assert.deepEqual(await store.addPushedRequest(pushedRecord("e"), 2), { added: true });
    assert.deepEqual(await store.addPushedRequest(at("f")), { added: true }, "no cap given");
  });

  test("addPushedRequest from 12 concurrent callers of one address with a cap of 5 stores exactly 5", async (store) => {
    const admissions = await Promise.all(
      Array.from(
        { length: 12 },
        (_, i) => store.addPushedRequest(pushedRecord(`p${i}`, { address: "203.0.113.5" }), 5),
      ),
    );
    assert.equal(admissions.filter((admission) => admission.added).length, 5);
  });

  test("a client that must push its requests keeps requirePar", async (store) => {
    const strict = clientRecord("strict", { requirePar: true });
    await store.addClient(strict);
    await store.addClient(clientRecord("plain"));
    assert.deepEqual(await store.getClient("strict"), strict);
    assert.equal((await store.getClient("plain"))?.requirePar, false);
  });

  testReopening(
    "two connections pushing for one address at once keep its cap",
    async (store, reopen) => {
      const other = await reopen();
      const admissions = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? store : other).addPushedRequest(
            pushedRecord(`p${i}`, { address: "203.0.113.5" }),
            5,
          )),
      );
      assert.equal(admissions.filter((admission) => admission.added).length, 5);
    },
  );

  testReopening(
    "two connections racing for one pushed request: exactly one takes it",
    async (store, reopen) => {
      const other = await reopen();
      for (let round = 0; round < 10; round++) {
        await store.addPushedRequest(pushedRecord(`p${round}`));
        const outcomes = await Promise.all(
          Array.from(
            { length: 6 },
            (_, i) => (i % 2 === 0 ? store : other).takePushedRequest(`p${round}`, "app", NOW + 1),
          ),
        );
        const taken = outcomes.filter((result) => result.outcome === "taken");
        assert.equal(taken.length, 1, `round ${round}`);
      }
    },
  );
}
