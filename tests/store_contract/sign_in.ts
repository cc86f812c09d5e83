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

  // --- authorization codes ---

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

  test("pruneExpired deletes expired pending steps, sessions with their links, and old codes", async (store) => {
    await store.addPendingRequest(pendingRecord("live", { expiresAt: NOW + 1 }));
    await store.addPendingRequest(pendingRecord("expired", { expiresAt: NOW }));
    await store.addAuthorizationCode(codeRecord("recent", { expiresAt: NOW - 60 }));
    await store.addAuthorizationCode(codeRecord("old", { expiresAt: NOW - 2 * 86400 }));
    await store.addBrowserSession(browserSession("live", "sid-live"));
    await store.addBrowserSession(browserSession("idle", "sid-idle", { idleExpiresAt: NOW }));
    await store.addBrowserSession(browserSession("over", "sid-over", { expiresAt: NOW }));
    await store.linkSessionFamily("sid-live", "f-live");
    await store.linkSessionFamily("sid-idle", "f-idle");

    await store.pruneExpired(NOW);

    assert.ok(await store.getPendingRequest("live", NOW));
    assert.equal(await store.takePendingRequest("expired", 0), undefined);
    // Used codes are kept a while past their expiry, so that a late replay is still seen.
    assert.equal((await store.useAuthorizationCode("recent", NOW)).outcome, "expired");
    assert.equal((await store.useAuthorizationCode("old", NOW)).outcome, "unknown");
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
