/**
 * @module
 * The tokens part of the store contract, what the end of a removed client's refresh families
 * needs: marking the families of confidential clients written without the mark (at start-up, and
 * on a rotation by the authenticated client), and revoking a family only while it lives, so that
 * of many presentations racing to end it exactly one does.
 */
import assert from "node:assert/strict";
import { type ContractContext, familyRecord, nextToken, NOW, startFamily } from "./setup.ts";

/** Registers the cases of marking and ending the families of confidential clients. */
export function clientFamiliesContract({ test, testReopening }: ContractContext): void {
  test("markConfidentialFamilies marks the live unmarked families of the clients named, and no other", async (store) => {
    const families = [
      familyRecord("svc-live", { clientId: "svc" }),
      familyRecord("svc-marked", { clientId: "svc", clientConfidential: true }),
      familyRecord("svc-revoked", { clientId: "svc" }),
      familyRecord("svc-ended", { clientId: "svc", expiresAt: NOW }),
      familyRecord("ops-live", { clientId: "ops" }),
      familyRecord("cli-live", { clientId: "cli" }),
      familyRecord("quote-live", { clientId: "o'svc" }),
    ];
    for (const family of families) await startFamily(store, family, `${family.id}-0`);
    await store.revokeRefreshFamily("svc-revoked", NOW);
    assert.equal(await store.markConfidentialFamilies([], NOW), 0);
    assert.equal(await store.markConfidentialFamilies(["svc", "ops", "o'svc", "gone"], NOW), 3);
    const marks: Record<string, boolean | undefined> = {};
    for (const { id } of families) {
      marks[id] = (await store.getRefreshToken(`${id}-0`))?.family.clientConfidential;
    }
    assert.deepEqual(marks, {
      "svc-live": true,
      "svc-marked": true,
      "svc-revoked": false,
      "svc-ended": false,
      "ops-live": true,
      "cli-live": false,
      "quote-live": true,
    });
    assert.equal(await store.markConfidentialFamilies(["svc", "ops"], NOW), 0, "marked once");
  });

  test("rotateRefreshToken marks an unmarked family when the rotating client authenticated, and never unmarks one", async (store) => {
    await startFamily(store, familyRecord("f-unmarked", { clientId: "svc" }), "u-1");
    const healed = await store.rotateRefreshToken(
      "u-1",
      NOW,
      nextToken("u-2", { clientConfidential: true }),
    );
    assert.equal(healed.outcome === "rotated" && healed.family.clientConfidential, true);
    assert.equal((await store.getRefreshToken("u-2"))?.family.clientConfidential, true);
    await store.rotateRefreshToken("u-2", NOW, nextToken("u-3", { clientConfidential: false }));
    assert.equal((await store.getRefreshToken("u-3"))?.family.clientConfidential, true);
    await startFamily(store, familyRecord("f-public", { clientId: "cli" }), "p-1");
    await store.rotateRefreshToken("p-1", NOW, nextToken("p-2"));
    assert.equal((await store.getRefreshToken("p-2"))?.family.clientConfidential, false);
  });

  test("revokeLiveRefreshFamily revokes a live family once: racing callers, a revoked and an unknown family get undefined", async (store) => {
    await startFamily(store, familyRecord("f1", { accessExpiresAt: NOW + 777 }), "f1-0");
    const results = await Promise.all(
      Array.from({ length: 6 }, () => store.revokeLiveRefreshFamily("f1", NOW + 5)),
    );
    const revocations = results.filter((result) => result !== undefined);
    assert.equal(revocations.length, 1);
    assert.deepEqual({ ...revocations[0], seq: 0 }, {
      seq: 0,
      kind: "sid",
      id: "f1",
      expiresAt: NOW + 777,
    });
    assert.equal((await store.getRefreshToken("f1-0"))?.family.revokedAt, NOW + 5);
    assert.equal(await store.revokeLiveRefreshFamily("f1", NOW + 9), undefined);
    assert.equal((await store.getRefreshToken("f1-0"))?.family.revokedAt, NOW + 5);
    await startFamily(store, familyRecord("f2"), "f2-0");
    await store.revokeRefreshFamily("f2", NOW + 1);
    assert.equal(await store.revokeLiveRefreshFamily("f2", NOW + 9), undefined);
    assert.equal(await store.revokeLiveRefreshFamily("no-such-family", NOW), undefined);
    assert.deepEqual((await store.listRevocations(0, NOW)).map((r) => r.id).sort(), ["f1", "f2"]);
  });

  testReopening(
    "revokeLiveRefreshFamily from two connections at once: exactly one revokes each family",
    async (store, reopen) => {
      const other = await reopen();
      for (let round = 0; round < 10; round++) {
        const id = `end-${round}`;
        await startFamily(store, familyRecord(id), `${id}-0`);
        const results = await Promise.all([
          store.revokeLiveRefreshFamily(id, NOW + 1),
          other.revokeLiveRefreshFamily(id, NOW + 1),
          store.revokeLiveRefreshFamily(id, NOW + 1),
          other.revokeLiveRefreshFamily(id, NOW + 1),
        ]);
        assert.equal(results.filter((r) => r !== undefined).length, 1, `round ${round}`);
      }
    },
  );
}
