/**
 * @module
 * The sign-in part of the store contract: pending steps, authorization codes, browser sessions
 * with the refresh families issued in them, and consents.
 */
import assert from "node:assert/strict";
import { StoreFailure } from "../../src/store/errors.ts";
import {
  browserSession,
  clientRecord,
  codeRecord,
  type ContractContext,
  familyRecord,
  NOW,
  pendingRecord,
  startFamily,
} from "./setup.ts";

/** Registers the sign_in cases. */
export function signInContract({ test, testReopening }: ContractContext): void {
  // --- pending steps ---

  test("getPendingRequest finds a pending step until it expires", async (store) => {
    const record = pendingRecord("p1", { action: '{"kind":"consent","scope":"a \\"b\\""}' });
    await store.addPendingRequest(record);
    assert.deepEqual(await store.getPendingRequest("p1", NOW), record);
    assert.deepEqual(await store.getPendingRequest("p1", NOW + 599), record);
    assert.equal(await store.getPendingRequest("p1", NOW + 600), undefined);
    assert.equal(await store.getPendingRequest("p2", NOW), undefined);
  });

  test("takePendingRequest returns a pending step once, never an expired one", async (store) => {
    await store.addPendingRequest(pendingRecord("p1"));
    await store.addPendingRequest(pendingRecord("p2", { expiresAt: NOW + 10 }));
    assert.deepEqual(await store.takePendingRequest("p1", NOW), pendingRecord("p1"));
    assert.equal(await store.takePendingRequest("p1", NOW), undefined);
    assert.equal(await store.getPendingRequest("p1", NOW), undefined);
    assert.equal(await store.takePendingRequest("p2", NOW + 10), undefined);
  });

  test("takePendingRequest from 5 concurrent callers gives the step to exactly one", async (store) => {
    await store.addPendingRequest(pendingRecord("p1"));
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store.takePendingRequest("p1", NOW)),
    );
    assert.equal(results.filter((result) => result !== undefined).length, 1);
  });

  test("addPendingRequest with a cap stores an address's steps up to it, then says when a place frees", async (store) => {
    const at = (id: string, address: string, fields = {}) =>
      pendingRecord(id, { address, ...fields });
    assert.deepEqual(await store.addPendingRequest(at("a1", "198.51.100.7"), 3), { added: true });
    await store.addPendingRequest(at("a2", "198.51.100.7", { expiresAt: NOW + 500 }), 3);
    await store.addPendingRequest(at("a3", "198.51.100.7"), 3);
    assert.deepEqual(await store.addPendingRequest(at("a4", "198.51.100.7"), 3), {
      added: false,
      freeAt: NOW + 500,
    });
    assert.equal(await store.getPendingRequest("a4", NOW), undefined, "nothing stored");
    // Other addresses, steps without an address, and uncapped steps are not limited.
    assert.deepEqual(await store.addPendingRequest(at("b1", "198.51.100.8"), 3), { added: true });
    assert.deepEqual(await store.addPendingRequest(pendingRecord("n1"), 3), { added: true });
    assert.deepEqual(await store.addPendingRequest(at("u1", "198.51.100.7")), { added: true });
    // Taking a step frees its place; so does expiring, and the expired ones are deleted.
    await store.takePendingRequest("a1", NOW);
    assert.deepEqual(await store.addPendingRequest(at("a5", "198.51.100.7"), 4), { added: true });
    const later = { createdAt: NOW + 500, expiresAt: NOW + 1100 };
    assert.deepEqual(await store.addPendingRequest(at("a6", "198.51.100.7", later), 4), {
      added: true,
    });
    assert.equal(await store.takePendingRequest("a2", 0), undefined, "the expired one is gone");
  });

  test("addPendingRequest from 12 concurrent callers of one address with a cap of 5 stores exactly 5", async (store) => {
    const results = await Promise.all(
      Array.from(
        { length: 12 },
        (_, i) => store.addPendingRequest(pendingRecord(`p${i}`, { address: "203.0.113.5" }), 5),
      ),
    );
    assert.equal(results.filter((result) => result.added).length, 5);
    let stored = 0;
    for (let i = 0; i < 12; i++) if (await store.getPendingRequest(`p${i}`, NOW)) stored++;
    assert.equal(stored, 5);
  });

  // --- authorization codes ---

  test("addAuthorizationCode keeps a browser session's newest codes up to the cap, used or not, and leaves other sessions alone", async (store) => {
    await store.addAuthorizationCode(codeRecord("other", { browserSid: "sid-2" }), 3);
    for (let i = 0; i < 6; i++) {
      await store.addAuthorizationCode(codeRecord(`c${i}`), 3);
      if (i === 4) await store.useAuthorizationCode("c4", NOW + 1);
    }
    const outcomes = [];
    for (let i = 0; i < 6; i++) {
      outcomes.push((await store.useAuthorizationCode(`c${i}`, NOW + 2)).outcome);
    }
    assert.deepEqual(outcomes, ["unknown", "unknown", "unknown", "redeemed", "reused", "redeemed"]);
    assert.equal((await store.useAuthorizationCode("other", NOW + 2)).outcome, "redeemed");
    await store.addAuthorizationCode(codeRecord("uncapped-1", { browserSid: "sid-3" }));
    await store.addAuthorizationCode(codeRecord("uncapped-2", { browserSid: "sid-3" }));
    assert.equal((await store.useAuthorizationCode("uncapped-1", NOW + 2)).outcome, "redeemed");
  });

  test("addAuthorizationCode deletes the session's codes that expired by the new one's creation", async (store) => {
    await store.addAuthorizationCode(codeRecord("used"), 16);
    await store.useAuthorizationCode("used", NOW + 1);
    await store.addAuthorizationCode(codeRecord("unused"), 16);
    await store.addAuthorizationCode(codeRecord("other", { browserSid: "sid-2" }), 16);
    await store.addAuthorizationCode(
      codeRecord("fresh", { createdAt: NOW + 60, expiresAt: NOW + 120 }),
      16,
    );
    assert.equal((await store.useAuthorizationCode("used", NOW + 60)).outcome, "unknown");
    assert.equal((await store.useAuthorizationCode("unused", NOW + 60)).outcome, "unknown");
    assert.equal((await store.useAuthorizationCode("other", NOW + 60)).outcome, "expired");
    assert.equal((await store.useAuthorizationCode("fresh", NOW + 60)).outcome, "redeemed");
  });

  test("addAuthorizationCode from 20 concurrent callers of one session with a cap of 4 keeps exactly 4", async (store) => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.addAuthorizationCode(codeRecord(`c${i}`), 4)),
    );
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.useAuthorizationCode(`c${i}`, NOW + 1)),
    );
    assert.equal(outcomes.filter((result) => result.outcome === "redeemed").length, 4);
  });

  test("useAuthorizationCode redeems a code once, then reports reuse and marks the replay once", async (store) => {
    const record = codeRecord("c1");
    await store.addAuthorizationCode(record);
    assert.deepEqual(await store.useAuthorizationCode("c1", NOW + 5), {
      outcome: "redeemed",
      record: { ...record, usedAt: NOW + 5 },
    });
    assert.deepEqual(await store.useAuthorizationCode("c1", NOW + 6), {
      outcome: "reused",
      record: { ...record, usedAt: NOW + 5, replayedAt: NOW + 6 },
    });
    // A later replay, even past the expiry, is still a replay; the first replay time stays.
    assert.deepEqual(await store.useAuthorizationCode("c1", NOW + 600), {
      outcome: "reused",
      record: { ...record, usedAt: NOW + 5, replayedAt: NOW + 6 },
    });
  });

  test('useAuthorizationCode answers "expired" at and after expiresAt and "unknown" for others', async (store) => {
    const record = codeRecord("c1", { nonce: null });
    await store.addAuthorizationCode(record);
    for (const when of [NOW + 60, NOW + 61]) {
      assert.deepEqual(await store.useAuthorizationCode("c1", when), {
        outcome: "expired",
        record,
      });
    }
    assert.deepEqual(await store.useAuthorizationCode("c2", NOW), { outcome: "unknown" });
    assert.equal((await store.useAuthorizationCode("c1", NOW + 59)).outcome, "redeemed");
  });

  test("attachCodeFamily records the family and says whether a replay came first", async (store) => {
    await store.addAuthorizationCode(codeRecord("c1"));
    await store.addAuthorizationCode(codeRecord("c2"));
    await store.useAuthorizationCode("c1", NOW + 1);
    assert.deepEqual(await store.attachCodeFamily("c1", "family-1"), { replayed: false });
    const replay = await store.useAuthorizationCode("c1", NOW + 2);
    assert.equal(replay.outcome, "reused");
    assert.equal(replay.outcome === "reused" && replay.record.familyId, "family-1");

    await store.useAuthorizationCode("c2", NOW + 1);
    await store.useAuthorizationCode("c2", NOW + 2);
    assert.deepEqual(await store.attachCodeFamily("c2", "family-2"), { replayed: true });
    assert.deepEqual(await store.attachCodeFamily("unknown", "family-3"), { replayed: false });
  });

  test("useAuthorizationCode of one code from 5 concurrent callers redeems it exactly once", async (store) => {
    await store.addAuthorizationCode(codeRecord("c1"));
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store.useAuthorizationCode("c1", NOW + 1)),
    );
    const outcomes = results.map((result) => result.outcome).sort();
    assert.deepEqual(outcomes, ["redeemed", "reused", "reused", "reused", "reused"]);
  });

  // --- browser sessions ---

  test("addBrowserSession then getBrowserSession returns every field; touch moves the idle expiry", async (store) => {
    const session = browserSession("h1", "sid-1", { username: "Zoë 🦕" });
    await store.addBrowserSession(session);
    assert.deepEqual(await store.getBrowserSession("h1"), session);
    assert.equal(await store.getBrowserSession("h2"), undefined);
    assert.equal(await store.touchBrowserSession("h1", NOW + 3000), true);
    assert.deepEqual(await store.getBrowserSession("h1"), {
      ...session,
      idleExpiresAt: NOW + 3000,
    });
    assert.equal(await store.touchBrowserSession("h2", NOW + 3000), false);
  });

  test("endBrowserSession deletes the session and returns its families once", async (store) => {
    await store.addBrowserSession(browserSession("h1", "sid-1"));
    await store.addBrowserSession(browserSession("h2", "sid-2"));
    assert.equal(await store.linkSessionFamily("sid-1", "f1"), true);
    assert.equal(await store.linkSessionFamily("sid-1", "f2"), true);
    assert.equal(await store.linkSessionFamily("sid-1", "f2"), true, "linking twice is harmless");
    assert.equal(await store.linkSessionFamily("sid-2", "f3"), true);
    assert.deepEqual((await store.endBrowserSession("sid-1"))?.sort(), ["f1", "f2"]);
    assert.equal(await store.getBrowserSession("h1"), undefined);
    assert.equal(await store.endBrowserSession("sid-1"), undefined);
    assert.equal(
      await store.linkSessionFamily("sid-1", "f4"),
      false,
      "no link to an ended session",
    );
    assert.deepEqual(await store.endBrowserSession("sid-2"), ["f3"]);
    assert.equal(await store.endBrowserSession("no-such-sid"), undefined);
  });

  test("endBrowserSession of a session without families returns []", async (store) => {
    await store.addBrowserSession(browserSession("h1", "sid-1"));
    assert.deepEqual(await store.endBrowserSession("sid-1"), []);
  });

  test("endBrowserSession from 5 concurrent callers gives the families to exactly one", async (store) => {
    await store.addBrowserSession(browserSession("h1", "sid-1"));
    await store.linkSessionFamily("sid-1", "f1");
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store.endBrowserSession("sid-1")),
    );
    assert.deepEqual(results.filter((result) => result !== undefined), [["f1"]]);
  });

  test("linkSessionFamily racing endBrowserSession either links before the end or not at all", async (store) => {
    for (let round = 0; round < 10; round++) {
      const sid = `sid-${round}`;
      await store.addBrowserSession(browserSession(`h-${round}`, sid));
      const [linked, ended] = await Promise.all([
        store.linkSessionFamily(sid, `f-${round}`),
        store.endBrowserSession(sid),
      ]);
      assert.ok(ended, "the session existed");
      assert.equal(ended.includes(`f-${round}`), linked, `round ${round}`);
    }
  });

  // --- consents ---

  test("saveConsent records and replaces the scope per user and client", async (store) => {
    assert.equal(await store.getConsent("alice", "app"), undefined);
    await store.saveConsent("alice", "app", "openid", NOW);
    await store.saveConsent("bob", "app", "openid profile", NOW);
    assert.equal(await store.getConsent("alice", "app"), "openid");
    assert.equal(await store.getConsent("alice", "other"), undefined);
    await store.saveConsent("alice", "app", "openid profile hello", NOW + 1);
    assert.equal(await store.getConsent("alice", "app"), "openid profile hello");
    assert.equal(await store.getConsent("bob", "app"), "openid profile");
  });

  // --- pruning ---

  test("pruneExpired deletes expired pending steps, sessions with their links, and expired codes", async (store) => {
    await store.addPendingRequest(pendingRecord("live", { expiresAt: NOW + 1 }));
    await store.addPendingRequest(pendingRecord("expired", { expiresAt: NOW }));
    await store.addAuthorizationCode(codeRecord("live", { browserSid: "a", expiresAt: NOW + 1 }));
    const before = { createdAt: NOW - 60, expiresAt: NOW };
    await store.addAuthorizationCode(codeRecord("used", { browserSid: "b", ...before }));
    await store.useAuthorizationCode("used", NOW - 30);
    await store.addAuthorizationCode(codeRecord("unused", { browserSid: "c", ...before }));
    await store.addBrowserSession(browserSession("live", "sid-live"));
    await store.addBrowserSession(browserSession("idle", "sid-idle", { idleExpiresAt: NOW }));
    await store.addBrowserSession(browserSession("over", "sid-over", { expiresAt: NOW }));
    await store.linkSessionFamily("sid-live", "f-live");
    await store.linkSessionFamily("sid-idle", "f-idle");

    await store.pruneExpired(NOW);

    assert.ok(await store.getPendingRequest("live", NOW));
    assert.equal(await store.takePendingRequest("expired", 0), undefined);
    // A used code is kept until its expiry, so that a replay within it is seen; not longer.
    assert.equal((await store.useAuthorizationCode("used", NOW)).outcome, "unknown");
    assert.equal((await store.useAuthorizationCode("unused", NOW)).outcome, "unknown");
    assert.equal((await store.useAuthorizationCode("live", NOW)).outcome, "redeemed");
    assert.ok(await store.getBrowserSession("live"));
    assert.equal(await store.getBrowserSession("idle"), undefined);
    assert.equal(await store.getBrowserSession("over"), undefined);
    assert.equal(await store.endBrowserSession("sid-idle"), undefined);
    assert.deepEqual(await store.endBrowserSession("sid-live"), ["f-live"]);
  });

  // --- across connections ---

  testReopening(
    "two connections racing a browser session's link and sign-out against an account change: each finishes (no deadlock), the session ends and its family is revoked",
    async (store, reopen) => {
      const other = await reopen();
      for (let round = 0; round < 20; round++) {
        const sid = `sid-${round}`;
        await store.addBrowserSession(browserSession(`h-${round}`, sid));
        await startFamily(store, familyRecord(`f-${round}`), `fh-${round}`);
        const [first, second] = round % 2 === 0 ? [store, other] : [other, store];
        const [, , change] = await Promise.all([
          first.linkSessionFamily(sid, `f-${round}`),
          round % 4 < 2 ? second.endBrowserSession(sid) : Promise.resolve(undefined),
          (round % 4 < 2 ? first : second).endUserSessions("alice", NOW + 1),
        ]);
        assert.ok(change.found);
        assert.equal(await store.getBrowserSession(`h-${round}`), undefined, `round ${round}`);
        assert.equal(await other.linkSessionFamily(sid, "late"), false, `round ${round}`);
        const family = (await store.getRefreshToken(`fh-${round}`))?.family;
        assert.equal(family?.revokedAt, NOW + 1, `round ${round}`);
      }
    },
  );

  testReopening(
    "two connections adding an address's pending sign-ins and a session's codes at once keep both caps",
    async (store, reopen) => {
      const other = await reopen();
      const admissions = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? store : other).addPendingRequest(
            pendingRecord(`p${i}`, { address: "203.0.113.5" }),
            5,
          )),
      );
      assert.equal(admissions.filter((admission) => admission.added).length, 5);
      await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) => (i % 2 === 0 ? store : other).addAuthorizationCode(codeRecord(`c${i}`), 4),
        ),
      );
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.useAuthorizationCode(`c${i}`, NOW + 1)),
      );
      assert.equal(outcomes.filter((result) => result.outcome === "redeemed").length, 4);
    },
  );

  testReopening(
    "two connections share clients, codes, pending steps and browser sessions",
    async (store, reopen) => {
      const other = await reopen();
      await store.addClient(clientRecord("app"));
      assert.deepEqual(await other.getClient("app"), clientRecord("app"));
      await assert.rejects(other.addClient(clientRecord("app")), StoreFailure);

      await store.addAuthorizationCode(codeRecord("c1"));
      const results = await Promise.all(
        [store, other, store, other].map((s) => s.useAuthorizationCode("c1", NOW + 1)),
      );
      assert.equal(results.filter((r) => r.outcome === "redeemed").length, 1);

      await other.addPendingRequest(pendingRecord("p1"));
      const taken = await Promise.all(
        [store, other, store, other].map((s) => s.takePendingRequest("p1", NOW)),
      );
      assert.equal(taken.filter((r) => r !== undefined).length, 1);

      await store.addBrowserSession(browserSession("h1", "sid-1"));
      assert.equal(await other.linkSessionFamily("sid-1", "f1"), true);
      assert.deepEqual(await other.endBrowserSession("sid-1"), ["f1"]);
      assert.equal(await store.getBrowserSession("h1"), undefined);
      for (let round = 0; round < 10; round++) {
        const sid = `sid-r${round}`;
        await store.addBrowserSession(browserSession(`h-r${round}`, sid));
        const [linked, ended] = await Promise.all([
          store.linkSessionFamily(sid, `f-${round}`),
          other.endBrowserSession(sid),
        ]);
        assert.ok(ended);
        assert.equal(ended.includes(`f-${round}`), linked, `round ${round}`);
      }
    },
  );
}
