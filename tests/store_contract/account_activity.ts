/**
 * @module
 * The sign-in part of the store contract, the account page's activity: a user's live browser
 * sessions and refresh families, as the account page lists them.
 */
import assert from "node:assert/strict";
import { browserSession, type ContractContext, familyRecord, NOW, startFamily } from "./setup.ts";

/** Registers the account-activity cases. */
export function accountActivityContract({ test }: ContractContext): void {
  test("listBrowserSessions lists the user's live sessions only, newest first", async (store) => {
    await store.addBrowserSession(browserSession("b1", "s1"));
    await store.addBrowserSession(browserSession("b2", "s2", { createdAt: NOW + 5 }));
    await store.addBrowserSession(browserSession("b3", "s3", { idleExpiresAt: NOW + 1 }));
    await store.addBrowserSession(browserSession("b4", "s4", { username: "bob" }));
    const live = await store.listBrowserSessions("alice", NOW + 10);
    assert.deepEqual(live.map((session) => session.sid), ["s2", "s1"]);
    assert.deepEqual(await store.listBrowserSessions("carol", NOW), []);
  });

  test("listLiveFamilies lists the user's families neither revoked nor expired", async (store) => {
    await startFamily(store, familyRecord("f1", { createdAt: NOW }), "t1");
    await startFamily(store, familyRecord("f2", { createdAt: NOW + 1 }), "t2");
    await startFamily(store, familyRecord("f3", { expiresAt: NOW + 2 }), "t3");
    await startFamily(store, familyRecord("f4", { username: "bob" }), "t4");
    await store.revokeRefreshFamily("f1", NOW + 3);
    const live = await store.listLiveFamilies("alice", NOW + 3);
    assert.deepEqual(live.map((family) => family.id), ["f2"]);
  });
}
