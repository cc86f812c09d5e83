/**
 * @module
 * The accounts part of the store contract, its second factors: authenticator secrets and their last
 * accepted step, recovery codes, and the sign-in methods of browser sessions.
 */
import assert from "node:assert/strict";
import { browserSession, type ContractContext, HASH, NOW } from "./setup.ts";

/** Registers the second-factor cases. */
export function secondFactorsContract({ test, testReopening }: ContractContext): void {
  test("startTotpEnrolment stores an unconfirmed secret, replaced until confirmed", async (store) => {
    assert.equal(await store.startTotpEnrolment("alice", "S1", NOW), false, "no such user");
    await store.addUser("alice", HASH);
    assert.equal(await store.startTotpEnrolment("alice", "S1", NOW), true);
    assert.equal(await store.startTotpEnrolment("alice", "S2", NOW + 1), true);
    assert.deepEqual(await store.getTotpFactor("alice"), {
      username: "alice",
      secret: "S2",
      createdAt: NOW + 1,
      confirmedAt: null,
      lastStep: null,
    });
    assert.equal(
      await store.acceptTotpStep("alice", "S1", 10, { confirming: true, now: NOW + 2 }),
      false,
      "a replaced secret confirms nothing",
    );
    assert.equal(
      await store.acceptTotpStep("alice", "S2", 10, { confirming: false, now: NOW + 2 }),
      false,
      "an unconfirmed factor is no factor",
    );
    assert.equal(
      await store.acceptTotpStep("alice", "S2", 10, { confirming: true, now: NOW + 2 }),
      true,
    );
    assert.equal(await store.startTotpEnrolment("alice", "S3", NOW + 3), false, "confirmed");
    const factor = await store.getTotpFactor("alice");
    assert.equal(factor?.secret, "S2");
    assert.equal(factor?.confirmedAt, NOW + 2);
    assert.equal(factor?.lastStep, 10);
  });

  test("acceptTotpStep accepts each step once and never an earlier one", async (store) => {
    await store.addUser("alice", HASH);
    await store.startTotpEnrolment("alice", "S", NOW);
    await store.acceptTotpStep("alice", "S", 10, { confirming: true, now: NOW });
    const use = (step: number) =>
      store.acceptTotpStep("alice", "S", step, { confirming: false, now: NOW });
    assert.equal(await use(10), false);
    assert.equal(await use(9), false);
    assert.equal(await use(11), true);
    assert.equal(await use(11), false);
  });

  test("acceptTotpStep from 5 concurrent callers accepts a step exactly once", async (store) => {
    await store.addUser("alice", HASH);
    await store.startTotpEnrolment("alice", "S", NOW);
    await store.acceptTotpStep("alice", "S", 10, { confirming: true, now: NOW });
    const results = await Promise.all(
      Array.from(
        { length: 5 },
        () => store.acceptTotpStep("alice", "S", 12, { confirming: false, now: NOW }),
      ),
    );
    assert.equal(results.filter(Boolean).length, 1);
  });

  testReopening(
    "acceptTotpStep from two connections accepts a step once",
    async (store, reopen) => {
      await store.addUser("alice", HASH);
      await store.startTotpEnrolment("alice", "S", NOW);
      await store.acceptTotpStep("alice", "S", 10, { confirming: true, now: NOW });
      const other = await reopen();
      const results = await Promise.all(
        [store, other, store, other].map((each) =>
          each.acceptTotpStep("alice", "S", 11, { confirming: false, now: NOW })
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
    },
  );

  test("recovery codes are used once each and replaced as a whole", async (store) => {
    await store.addUser("alice", HASH);
    await store.replaceRecoveryCodes("alice", ["h1", "h2"], NOW);
    assert.equal(await store.countRecoveryCodes("alice"), 2);
    const uses = await Promise.all(
      Array.from({ length: 4 }, () => store.useRecoveryCode("alice", "h1", NOW)),
    );
    assert.equal(uses.filter(Boolean).length, 1);
    assert.equal(await store.useRecoveryCode("bob", "h2", NOW), false, "another user's code");
    assert.equal(await store.countRecoveryCodes("alice"), 1);
    await store.replaceRecoveryCodes("alice", ["h3"], NOW);
    assert.equal(await store.useRecoveryCode("alice", "h2", NOW), false, "replaced");
    assert.equal(await store.useRecoveryCode("alice", "h3", NOW), true);
  });

  test("removeSecondFactors and removeUser take the factor and codes away", async (store) => {
    await store.addUser("alice", HASH);
    await store.startTotpEnrolment("alice", "S", NOW);
    await store.replaceRecoveryCodes("alice", ["h1"], NOW);
    assert.equal(await store.removeSecondFactors("alice"), true);
    assert.equal(await store.removeSecondFactors("alice"), false);
    assert.equal(await store.getTotpFactor("alice"), undefined);
    assert.equal(await store.countRecoveryCodes("alice"), 0);
    await store.startTotpEnrolment("alice", "S", NOW);
    await store.replaceRecoveryCodes("alice", ["h1"], NOW);
    await store.removeUser("alice", NOW);
    await store.addUser("alice", HASH);
    assert.equal(await store.getTotpFactor("alice"), undefined, "a new alice has no factor");
    assert.equal(await store.countRecoveryCodes("alice"), 0);
  });

  test("session methods are kept for live sessions and pruned with them", async (store) => {
    await store.addBrowserSession(browserSession("b1", "sid-1"));
    assert.deepEqual(await store.getSessionMethods("sid-1"), ["pwd"]);
    await store.setSessionMethods("sid-1", ["pwd", "otp", "mfa"]);
    assert.deepEqual(await store.getSessionMethods("sid-1"), ["pwd", "otp", "mfa"]);
    await store.endBrowserSession("sid-1");
    await store.pruneExpired(NOW);
    assert.deepEqual(await store.getSessionMethods("sid-1"), ["pwd"]);
  });
}
