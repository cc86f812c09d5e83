/**
 * @module
 * The tokens part of the store contract, its DPoP proofs: a proof is recorded once while its window
 * lasts, by one of any number of racing callers and connections, forgotten by pruning once its
 * window ends; clients, refresh families and authorization codes keep their DPoP settings.
 */
import assert from "node:assert/strict";
import {
  clientRecord,
  codeRecord,
  type ContractContext,
  familyRecord,
  NOW,
  startFamily,
} from "./setup.ts";

/** Registers the DPoP cases. */
export function dpopProofsContract({ test, testReopening }: ContractContext): void {
  test("recordDpopProof records a proof once while its window lasts", async (store) => {
    assert.equal(await store.recordDpopProof("p1", NOW + 60, NOW), true);
    assert.equal(await store.recordDpopProof("p1", NOW + 90, NOW + 30), false);
    assert.equal(await store.recordDpopProof("p2", NOW + 60, NOW), true);
    // Once the first record's window has ended, the same hash is a new proof.
    assert.equal(await store.recordDpopProof("p1", NOW + 120, NOW + 60), true);
    assert.equal(await store.recordDpopProof("p1", NOW + 150, NOW + 61), false);
  });

  test("recordDpopProof lets exactly one of many racing callers record a proof", async (store) => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => store.recordDpopProof("race", NOW + 60, NOW)),
    );
    assert.equal(answers.filter(Boolean).length, 1);
  });

  testReopening(
    "recordDpopProof refuses a proof another connection recorded",
    async (store, reopen) => {
      const other = await reopen();
      const answers = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => (i % 2 ? other : store).recordDpopProof("x", NOW + 60, NOW),
        ),
      );
      assert.equal(answers.filter(Boolean).length, 1);
      assert.equal(await other.recordDpopProof("x", NOW + 60, NOW + 1), false);
    },
  );

  test("pruneExpired forgets proofs whose window has ended, and only those", async (store) => {
    await store.recordDpopProof("old", NOW + 10, NOW);
    await store.recordDpopProof("live", NOW + 100, NOW);
    await store.pruneExpired(NOW + 50);
    // A pruned record is gone even for a caller whose clock says it has not expired.
    assert.equal(await store.recordDpopProof("old", NOW + 60, NOW), true);
    assert.equal(await store.recordDpopProof("live", NOW + 160, NOW + 50), false);
  });

  test("a client keeps whether it must use DPoP", async (store) => {
    await store.addClient(clientRecord("bound", { dpopBound: true }));
    await store.addClient(clientRecord("plain"));
    assert.equal((await store.getClient("bound"))?.dpopBound, true);
    assert.equal((await store.getClient("plain"))?.dpopBound, false);
    const listed = await store.listClients();
    assert.deepEqual(listed.map((client) => [client.clientId, client.dpopBound]), [
      ["bound", true],
      ["plain", false],
    ]);
  });

  test("a refresh family keeps the DPoP key it is bound to", async (store) => {
    await startFamily(store, familyRecord("bound", { dpopJkt: "jkt-1" }), "t-bound");
    await startFamily(store, familyRecord("plain"), "t-plain");
    assert.equal((await store.getRefreshToken("t-bound"))?.family.dpopJkt, "jkt-1");
    assert.equal((await store.getRefreshToken("t-plain"))?.family.dpopJkt, null);
    const rotated = await store.rotateRefreshToken("t-bound", NOW + 1, () => ({
      tokenHash: "t-next",
      scope: "hello",
      expiresAt: NOW + 3600,
      accessExpiresAt: NOW + 930,
    }));
    assert.equal(rotated.outcome === "rotated" && rotated.family.dpopJkt, "jkt-1");
    assert.equal((await store.getRefreshToken("t-next"))?.family.dpopJkt, "jkt-1");
  });

  test("an authorization code keeps the DPoP key it is bound to", async (store) => {
    await store.addAuthorizationCode(codeRecord("bound", { dpopJkt: "jkt-1" }), 16);
    await store.addAuthorizationCode(codeRecord("plain", { browserSid: "sid-2" }), 16);
    const bound = await store.useAuthorizationCode("bound", NOW + 1);
    assert.equal(bound.outcome === "redeemed" && bound.record.dpopJkt, "jkt-1");
    const plain = await store.useAuthorizationCode("plain", NOW + 1);
    assert.equal(plain.outcome === "redeemed" && plain.record.dpopJkt, null);
  });
}
