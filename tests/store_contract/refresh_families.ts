/**
 * @module
 * The tokens part of the store contract, its refresh families: starting one, rotating and
 * revoking its tokens (also racing, and from two connections), and pruning what has ended.
 */
import assert from "node:assert/strict";
import {
  type ContractContext,
  familyRecord,
  HASH,
  nextToken,
  NOW,
  readThrottle,
  startFamily,
  tokenRecord,
  writeThrottle,
} from "./setup.ts";

/** Registers the refresh-family cases of the tokens part. */
export function refreshFamiliesContract({ test, testReopening }: ContractContext): void {
  // --- refresh families ---

  test("getRefreshToken returns undefined for an unknown hash", async (store) => {
    assert.equal(await store.getRefreshToken("0".repeat(64)), undefined);
  });

  test("startRefreshFamily then getRefreshToken returns the token and its family, every field", async (store) => {
    await store.addUser("Zoë 🦕", HASH);
    const family = familyRecord("family-1", {
      username: "Zoë 🦕",
      clientId: "client'); DROP TABLE refresh_tokens;--",
      createdAt: 4_102_444_800,
      expiresAt: 4_102_444_800 + 30 * 86400,
      accessExpiresAt: 4_102_444_800 + 930,
    });
    const token = tokenRecord("a".repeat(64), "family-1", {
      scope: "hello read:all",
      createdAt: 4_102_444_800,
      expiresAt: 4_102_444_800 + 7 * 86400,
    });
    assert.equal(await store.startRefreshFamily(family, token, HASH), true);
    assert.deepEqual(await store.getRefreshToken(token.tokenHash), { token, family });
    assert.equal(await store.getRefreshToken("c".repeat(64)), undefined);
  });

  test("a family keeps whether its client had to authenticate, also through a rotation", async (store) => {
    const confidential = familyRecord("f-conf", { clientId: "svc", clientConfidential: true });
    await startFamily(store, confidential, "conf-1");
    await startFamily(store, familyRecord("f-public", { clientId: "cli" }), "public-1");
    assert.equal((await store.getRefreshToken("conf-1"))?.family.clientConfidential, true);
    assert.equal((await store.getRefreshToken("public-1"))?.family.clientConfidential, false);
    const rotated = await store.rotateRefreshToken("conf-1", NOW, nextToken("conf-2"));
    assert.equal(rotated.outcome, "rotated");
    assert.equal((await store.getRefreshToken("conf-2"))?.family.clientConfidential, true);
  });

  test("startRefreshFamily stores nothing unless the user exists with the password hash the login checked", async (store) => {
    await store.addUser("alice", HASH);
    const refused = [
      ["a stale hash", familyRecord("f1"), "$hash-old"],
      ["an unknown user", familyRecord("f2", { username: "ghost" }), HASH],
    ] as const;
    for (const [what, family, hash] of refused) {
      const token = tokenRecord(`h-${family.id}`, family.id);
      assert.equal(await store.startRefreshFamily(family, token, hash), false, what);
      assert.equal(await store.getRefreshToken(token.tokenHash), undefined, what);
    }
    await store.changePassword("alice", "$hash-new", NOW);
    const afterChange = tokenRecord("h3", "f3");
    assert.equal(await store.startRefreshFamily(familyRecord("f3"), afterChange, HASH), false);
    assert.equal(await store.getRefreshToken("h3"), undefined);
    assert.equal(
      await store.startRefreshFamily(familyRecord("f3"), afterChange, "$hash-new"),
      true,
    );
    assert.ok(await store.getRefreshToken("h3"));
  });

  test("rotateRefreshToken marks the token used, inserts the next one and extends the family's access expiry", async (store) => {
    const family = familyRecord("f1");
    const first = await startFamily(store, family, "h1");
    let seen;
    const result = await store.rotateRefreshToken("h1", NOW + 10, (current) => {
      seen = current;
      return nextToken("h2", { scope: "hello read" })();
    });
    assert.deepEqual(seen, { token: first, family }, "next sees the token and its family");
    const second = {
      tokenHash: "h2",
      familyId: "f1",
      scope: "hello read",
      createdAt: NOW + 10,
      expiresAt: NOW + 7200,
      usedAt: null,
    };
    const extended = { ...family, accessExpiresAt: NOW + 2000 };
    assert.deepEqual(result, { outcome: "rotated", family: extended, token: second });
    assert.deepEqual(await store.getRefreshToken("h1"), {
      token: { ...first, usedAt: NOW + 10 },
      family: extended,
    });
    assert.deepEqual(await store.getRefreshToken("h2"), { token: second, family: extended });
    // The family's access expiry never shrinks.
    const third = await store.rotateRefreshToken(
      "h2",
      NOW + 20,
      nextToken("h3", { accessExpiresAt: NOW + 1000 }),
    );
    assert.equal(third.outcome, "rotated");
    assert.equal((await store.getRefreshToken("h3"))?.family.accessExpiresAt, NOW + 2000);
  });

  test("rotateRefreshToken never lets the next token outlive its family's absolute expiry", async (store) => {
    await startFamily(store, familyRecord("f1", { expiresAt: NOW + 500 }), "h1");
    const result = await store.rotateRefreshToken("h1", NOW + 10, nextToken("h2"));
    assert.ok(result.outcome === "rotated");
    assert.equal(result.token.expiresAt, NOW + 500);
    assert.equal((await store.getRefreshToken("h2"))?.token.expiresAt, NOW + 500);
  });

  test('rotateRefreshToken of a used token answers "reused", revokes the family and records its sid revocation', async (store) => {
    const family = familyRecord("f1");
    await startFamily(store, family, "h1");
    await startFamily(store, familyRecord("f2"), "other");
    const rotated = await store.rotateRefreshToken("h1", NOW + 10, nextToken("h2"));
    assert.equal(rotated.outcome, "rotated");
    let called = false;
    const replay = await store.rotateRefreshToken("h1", NOW + 20, () => {
      called = true;
      return nextToken("never")();
    });
    assert.equal(called, false);
    const revoked = { ...family, accessExpiresAt: NOW + 2000, revokedAt: NOW + 20 };
    assert.ok(replay.outcome === "reused", replay.outcome);
    assert.deepEqual(replay.family, revoked);
    assert.deepEqual(
      { ...replay.revocation, seq: 0 },
      { seq: 0, kind: "sid", id: "f1", expiresAt: NOW + 2000 },
    );
    assert.deepEqual(await store.listRevocations(0, NOW), [replay.revocation]);
    assert.equal(await store.getRefreshToken("never"), undefined);
    // The family is revoked: its newest token no longer rotates, and is not spent by trying.
    const newest = await store.rotateRefreshToken("h2", NOW + 30, nextToken("h3"));
    assert.deepEqual(newest, { outcome: "revoked", family: revoked });
    assert.equal((await store.getRefreshToken("h2"))?.token.usedAt, null);
    // Another family is untouched.
    assert.equal((await store.getRefreshToken("other"))?.family.revokedAt, null);
    const other = await store.rotateRefreshToken("other", NOW + 30, nextToken("o2"));
    assert.equal(other.outcome, "rotated");
  });

  test('rotateRefreshToken answers "unknown" for an unknown hash without calling next', async (store) => {
    await startFamily(store, familyRecord("f1"), "h1");
    for (const hash of ["h2", ""]) {
      const result = await store.rotateRefreshToken(hash, NOW, () => {
        throw new Error("next must not be called");
      });
      assert.deepEqual(result, { outcome: "unknown" });
    }
    assert.equal((await store.getRefreshToken("h1"))?.token.usedAt, null);
  });

  test("rotateRefreshToken answers \"expired\" at and after the token's or the family's expiry, changing nothing", async (store) => {
    const idle = familyRecord("idle");
    const idleToken = await startFamily(store, idle, "h-idle", { expiresAt: NOW + 100 });
    const ended = familyRecord("ended", { expiresAt: NOW + 200 });
    const endedToken = await startFamily(store, ended, "h-ended", { expiresAt: NOW + 300 });
    const refuse = () => {
      throw new Error("next must not be called");
    };
    for (const when of [NOW + 100, NOW + 101, NOW + 1_000_000]) {
      assert.deepEqual(await store.rotateRefreshToken("h-idle", when, refuse), {
        outcome: "expired",
        family: idle,
      });
    }
    for (const when of [NOW + 200, NOW + 250]) {
      assert.deepEqual(await store.rotateRefreshToken("h-ended", when, refuse), {
        outcome: "expired",
        family: ended,
      });
    }
    assert.deepEqual(await store.getRefreshToken("h-idle"), { token: idleToken, family: idle });
    assert.deepEqual(await store.getRefreshToken("h-ended"), { token: endedToken, family: ended });
    // One second earlier each is still valid.
    const idleLast = await store.rotateRefreshToken("h-idle", NOW + 99, nextToken("n1"));
    assert.equal(idleLast.outcome, "rotated");
    const endedLast = await store.rotateRefreshToken("h-ended", NOW + 199, nextToken("n2"));
    assert.equal(endedLast.outcome, "rotated");
  });

  test("rotateRefreshToken changes nothing when next throws, and passes the error on", async (store) => {
    const family = familyRecord("f1");
    const first = await startFamily(store, family, "h1");
    const refusal = new Error("Refused");
    await assert.rejects(
      store.rotateRefreshToken("h1", NOW + 10, () => {
        throw refusal;
      }),
      (error) => error === refusal,
    );
    assert.deepEqual(await store.getRefreshToken("h1"), { token: first, family });
    const retry = await store.rotateRefreshToken("h1", NOW + 11, nextToken("h2"));
    assert.equal(retry.outcome, "rotated");
  });

  test('revokeRefreshFamily revokes the family ("revoked"), records its sid revocation until its access expiry, and touches no other', async (store) => {
    const family = familyRecord("f1", { accessExpiresAt: NOW + 777 });
    await startFamily(store, family, "f1-first");
    await store.rotateRefreshToken(
      "f1-first",
      NOW + 1,
      nextToken("f1-live", { accessExpiresAt: 0 }),
    );
    await startFamily(store, familyRecord("f2"), "f2-live");
    const revocation = await store.revokeRefreshFamily("f1", NOW + 5);
    assert.ok(revocation);
    assert.deepEqual({ ...revocation, seq: 0 }, {
      seq: 0,
      kind: "sid",
      id: "f1",
      expiresAt: NOW + 777,
    });
    assert.deepEqual(await store.listRevocations(0, NOW), [revocation]);
    const revoked = { ...family, revokedAt: NOW + 5 };
    for (const hash of ["f1-first", "f1-live"]) {
      assert.deepEqual((await store.getRefreshToken(hash))?.family, revoked, hash);
      const result = await store.rotateRefreshToken(hash, NOW + 6, nextToken(`${hash}-next`));
      assert.deepEqual(result, { outcome: "revoked", family: revoked }, hash);
    }
    const live = await store.getRefreshToken("f1-live");
    assert.equal(live?.token.usedAt, null, "not spent by refusal");
    // The other family is untouched.
    assert.equal((await store.getRefreshToken("f2-live"))?.family.revokedAt, null);
    const other = await store.rotateRefreshToken("f2-live", NOW + 6, nextToken("f2-next"));
    assert.equal(other.outcome, "rotated");
    // Revoking again keeps the first time and the same revocation; an unknown family is a no-op.
    assert.deepEqual(await store.revokeRefreshFamily("f1", NOW + 50), revocation);
    assert.equal((await store.getRefreshToken("f1-live"))?.family.revokedAt, NOW + 5);
    assert.equal(await store.revokeRefreshFamily("no-such-family", NOW + 50), undefined);
    assert.equal((await store.listRevocations(0, NOW)).length, 1);
  });

  test("rotateRefreshToken of one token from 5 concurrent callers rotates it once; the first replay revokes the family", async (store) => {
    await startFamily(store, familyRecord("f1"), "h1");
    const results = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) => store.rotateRefreshToken("h1", NOW + 1, nextToken(`n${i}`)),
      ),
    );
    const outcomes = results.map((result) => result.outcome).sort();
    assert.deepEqual(outcomes, ["reused", "revoked", "revoked", "revoked", "rotated"]);
    const winner = results.find((result) => result.outcome === "rotated");
    assert.ok(winner?.outcome === "rotated");
    const next = await store.rotateRefreshToken(winner.token.tokenHash, NOW + 2, nextToken("late"));
    assert.equal(next.outcome, "revoked", "the family of a replayed token is revoked");
  });

  test("rotateRefreshToken racing revokeRefreshFamily: the revoked family never rotates again and its revocation covers every access token minted", async (store) => {
    for (let round = 0; round < 20; round++) {
      const id = `race-${round}`;
      await startFamily(store, familyRecord(id), `${id}-0`);
      const [rotated, revocation] = await Promise.all([
        store.rotateRefreshToken(`${id}-0`, NOW + 1, nextToken(`${id}-1`)),
        store.revokeRefreshFamily(id, NOW + 1),
      ]);
      assert.ok(revocation);
      assert.ok(["rotated", "revoked"].includes(rotated.outcome), rotated.outcome);
      if (rotated.outcome === "rotated") {
        // The revocation came second, so it knows the access token minted by the rotation.
        assert.equal(revocation.expiresAt, NOW + 2000, `round ${round}`);
        const after = await store.rotateRefreshToken(`${id}-1`, NOW + 2, nextToken(`${id}-2`));
        assert.equal(after.outcome, "revoked", `round ${round}`);
      }
      assert.notEqual((await store.getRefreshToken(`${id}-0`))?.family.revokedAt, null);
    }
  });

  // --- pruning ---

  test("pruneExpired deletes expired refresh tokens, finished families and expired revocations and keeps live ones", async (store) => {
    await startFamily(store, familyRecord("f1", { expiresAt: NOW + 10 }), "spent", {
      expiresAt: NOW + 1,
    });
    await store.rotateRefreshToken("spent", NOW - 5, nextToken("live", { expiresAt: NOW + 1 }));
    await startFamily(store, familyRecord("f2"), "revoked", { expiresAt: NOW + 1 });
    await store.revokeRefreshFamily("f2", NOW - 5);
    await startFamily(store, familyRecord("f3"), "expired-now", { expiresAt: NOW });
    // A family whose refresh tokens are over but whose access tokens may still be accepted.
    await startFamily(
      store,
      familyRecord("f4", { expiresAt: NOW - 1, accessExpiresAt: NOW + 1 }),
      "f4-token",
      { expiresAt: NOW - 1 },
    );
    // A family over entirely.
    await startFamily(
      store,
      familyRecord("f5", { expiresAt: NOW, accessExpiresAt: NOW }),
      "f5-token",
      { expiresAt: NOW },
    );
    const keptHashes = ["live", "spent", "revoked"];
    const kept = await Promise.all(keptHashes.map((hash) => store.getRefreshToken(hash)));
    await store.addRevocation("jti", "expired-now", NOW);
    await store.addRevocation("sid", "expired-before", NOW - 1);
    await store.addRevocation("jti", "live", NOW + 1);
    const stale = { failures: 3, windowStartAt: NOW - 30 * 86400, blockedUntil: 0 };
    const recent = { failures: 3, windowStartAt: NOW, blockedUntil: 0 };
    const blocked = { failures: 9, windowStartAt: NOW - 30 * 86400, blockedUntil: NOW + 60 };
    await writeThrottle(store, "account:stale", stale);
    await writeThrottle(store, "account:recent", recent);
    await writeThrottle(store, "account:blocked", blocked);

    await store.pruneExpired(NOW);

    for (const hash of ["expired-now", "f4-token", "f5-token"]) {
      assert.equal(await store.getRefreshToken(hash), undefined, hash);
    }
    // Spent and revoked tokens stay until they expire: reuse detection needs them.
    assert.deepEqual(
      await Promise.all(keptHashes.map((hash) => store.getRefreshToken(hash))),
      kept,
    );
    // Families stay while their access tokens may be accepted (a later revocation needs them).
    assert.equal((await store.revokeRefreshFamily("f4", NOW))?.expiresAt, NOW + 1);
    assert.equal(await store.revokeRefreshFamily("f5", NOW), undefined, "f5 was deleted");
    assert.ok(await store.revokeRefreshFamily("f3", NOW), "f3 lives on without tokens");
    // With now = 0 every stored revocation would be listed (f2's expired at NOW - 5 + 930).
    assert.deepEqual((await store.listRevocations(0, 0)).map((r) => [r.kind, r.id]), [
      ["sid", "f2"],
      ["jti", "live"],
      ["sid", "f4"],
      ["sid", "f3"],
    ]);
    assert.equal(await readThrottle(store, "account:stale"), undefined);
    assert.deepEqual(await readThrottle(store, "account:recent"), recent);
    assert.deepEqual(await readThrottle(store, "account:blocked"), blocked);
    // Pruning again is harmless.
    await store.pruneExpired(NOW);
    assert.deepEqual(await store.getRefreshToken("live"), kept[0]);
  });

  // --- across connections ---

  testReopening(
    "keeps refresh tokens, families and revocations across close and reopen",
    async (store, reopen) => {
      await startFamily(store, familyRecord("f1"), "spent");
      await store.rotateRefreshToken("spent", NOW + 1, nextToken("live"));
      await startFamily(store, familyRecord("f2"), "revoked");
      await store.revokeRefreshFamily("f2", NOW + 2);
      await store.addRevocation("jti", "token-1", NOW + 100);
      const revocations = await store.listRevocations(0, NOW);
      const hashes = ["live", "spent", "revoked"];
      const states = await Promise.all(hashes.map((hash) => store.getRefreshToken(hash)));
      const again = await reopen();
      await store.close();
      assert.deepEqual(
        await Promise.all(hashes.map((hash) => again.getRefreshToken(hash))),
        states,
      );
      const outcomes = [];
      for (const hash of ["revoked", "spent", "live"]) {
        outcomes.push(
          (await again.rotateRefreshToken(hash, NOW + 3, nextToken(`${hash}+`))).outcome,
        );
      }
      assert.deepEqual(outcomes, ["revoked", "reused", "revoked"]);
      assert.deepEqual((await again.listRevocations(0, NOW)).slice(0, 2), revocations, "same seq");
      await again.addRevocation("jti", "token-2", NOW + 300);
      const added = await again.listRevocations(revocations[1].seq, NOW);
      assert.deepEqual(added.map((r) => r.id), ["f1", "token-2"]);
    },
  );

  testReopening("two connections share refresh tokens and revocations", async (store, reopen) => {
    const other = await reopen();
    await startFamily(store, familyRecord("f1"), "h1");
    await startFamily(store, familyRecord("f2"), "h3");
    assert.equal((await other.getRefreshToken("h1"))?.family.id, "f1");
    const rotated = await other.rotateRefreshToken("h1", NOW + 1, nextToken("h2"));
    assert.equal(rotated.outcome, "rotated");
    await store.revokeRefreshFamily("f1", NOW + 3);
    const refused = await other.rotateRefreshToken("h2", NOW + 4, nextToken("h2b"));
    assert.equal(refused.outcome, "revoked");
    // Both connections race for one token: one rotates, the first replay revokes the family.
    const results = await Promise.all(
      [store, other, store, other].map((s, i) =>
        s.rotateRefreshToken("h3", NOW + 5, nextToken(`r${i}`))
      ),
    );
    assert.equal(results.filter((r) => r.outcome === "rotated").length, 1);
    assert.equal(results.filter((r) => r.outcome === "reused").length, 1);
    assert.equal(results.filter((r) => r.outcome === "revoked").length, 2);

    await store.addRevocation("jti", "token-1", NOW + 100);
    const listed = await other.listRevocations(0, NOW);
    assert.deepEqual(listed.map((r) => r.id), ["f1", "f2", "token-1"]);
    await other.addRevocation("sid", "f9", NOW + 100);
    assert.deepEqual((await store.listRevocations(listed[2].seq, NOW)).map((r) => r.id), ["f9"]);
    await other.pruneExpired(NOW + 2001);
    assert.deepEqual(await store.listRevocations(0, 0), []);
  });

  testReopening(
    "two connections racing rotation against revocation and account changes: no revoked family rotates again",
    async (store, reopen) => {
      const other = await reopen();
      for (let round = 0; round < 20; round++) {
        const id = `race-${round}`;
        await startFamily(store, familyRecord(id), `${id}-0`);
        const [first, second] = round % 2 === 0 ? [store, other] : [other, store];
        const revoke = round % 4 < 2
          ? second.revokeRefreshFamily(id, NOW + 1).then((r) => r?.expiresAt)
          : second.endUserSessions("alice", NOW + 1).then(async () =>
            (await second.listRevocations(0, NOW)).find((r) => r.id === id)?.expiresAt
          );
        const [rotated, revokedUntil] = await Promise.all([
          first.rotateRefreshToken(`${id}-0`, NOW + 1, nextToken(`${id}-1`)),
          revoke,
        ]);
        assert.ok(["rotated", "revoked"].includes(rotated.outcome), rotated.outcome);
        assert.ok(revokedUntil !== undefined, `round ${round}: a sid revocation`);
        if (rotated.outcome === "rotated") {
          assert.equal(revokedUntil, NOW + 2000, `round ${round}: covers the minted access token`);
          for (const s of [store, other]) {
            const again = await s.rotateRefreshToken(`${id}-1`, NOW + 2, nextToken(`${id}-x`));
            assert.equal(again.outcome, "revoked", `round ${round}`);
          }
        }
      }
    },
  );
}
