/**
 * @module
 * The accounts part of the store contract: users and passwords, login throttling, the service's
 * own secrets, and the account changes that end a user's refresh families and browser sessions.
 */
import assert from "node:assert/strict";
import { unixNow } from "../../src/clock.ts";
import { StoreFailure } from "../../src/store/errors.ts";
import { publicHalf } from "../../src/store/store.ts";
import {
  browserSession,
  clientRecord,
  type ContractContext,
  familyRecord,
  HASH,
  increment,
  keyRecord,
  nextToken,
  NOW,
  readThrottle,
  reserve,
  startFamily,
  tokenRecord,
  writeThrottle,
} from "./setup.ts";

/** Registers the accounts cases. */
export function accountsContract({ test, testReopening }: ContractContext): void {
  // --- users ---

  test("getUser returns undefined for an unknown user", async (store) => {
    assert.equal(await store.getUser("alice"), undefined);
  });

  test("addUser then getUser returns the record", async (store) => {
    const before = unixNow();
    await store.addUser("alice", "$hash-a");
    const user = await store.getUser("alice");
    assert.ok(user);
    assert.equal(user.username, "alice");
    assert.equal(user.passwordHash, "$hash-a");
    assert.equal(typeof user.createdAt, "number");
    assert.ok(user.createdAt >= before && user.createdAt <= unixNow(), "createdAt is Unix seconds");
  });

  test("getUser matches the exact name only", async (store) => {
    await store.addUser("alice", "$hash-a");
    for (const other of ["Alice", "ALICE", "alice ", " alice", "alic", "alice%", "%"]) {
      assert.equal(await store.getUser(other), undefined, JSON.stringify(other));
    }
  });

  test("addUser keeps unusual names verbatim", async (store) => {
    const names = ["Zoë 🦕", "robert'); DROP TABLE users;--", 'a"b\\c', "用户"];
    for (const username of names) await store.addUser(username, `$hash-${username}`);
    for (const username of names) {
      assert.equal((await store.getUser(username))?.passwordHash, `$hash-${username}`);
    }
    assert.equal((await store.listUsers()).length, names.length);
  });

  test("addUser rejects a taken name as duplicate_user and keeps the old hash", async (store) => {
    await store.addUser("alice", "$hash-a");
    await assert.rejects(store.addUser("alice", "$hash-b"), (error) => {
      assert.ok(error instanceof StoreFailure);
      assert.equal(error.code, "duplicate_user");
      assert.equal(error.message, 'User "alice" already exists');
      return true;
    });
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a");
  });

  test("addUser gives every user a subject of their own, never their name nor a removed user's, and getUserBySubject finds it", async (store) => {
    const subject = /^[0-9a-f]{32}$/;
    await store.addUser("alice", "$hash-a");
    await store.addUser("bob", "$hash-b");
    const alice = (await store.getUser("alice"))!;
    const bob = (await store.getUser("bob"))!;
    assert.match(alice.subject, subject);
    assert.match(bob.subject, subject);
    assert.notEqual(alice.subject, bob.subject);
    assert.deepEqual(await store.getUserBySubject(alice.subject), alice);
    assert.equal(await store.getUserBySubject("alice"), undefined, "by subject, not by name");
    assert.equal(await store.getUserBySubject(alice.subject.toUpperCase()), undefined);

    await store.changePassword("alice", "$hash-a2", NOW);
    assert.equal((await store.getUser("alice"))?.subject, alice.subject, "kept by a change");
    await store.removeUser("alice", NOW);
    assert.equal(await store.getUserBySubject(alice.subject), undefined);
    await store.addUser("alice", "$hash-a3");
    const again = (await store.getUser("alice"))!;
    assert.match(again.subject, subject);
    assert.notEqual(again.subject, alice.subject, "a subject is never reassigned");
    assert.equal(await store.getUserBySubject(alice.subject), undefined);
    assert.equal((await store.getUserBySubject(again.subject))?.username, "alice");
  });

  test("addUser refuses as name_taken the id of a client that acts for itself, and only that", async (store) => {
    await store.addClient(clientRecord("reporting", { grantTypes: ["client_credentials"] }));
    await store.addClient(clientRecord("app"));
    await assert.rejects(store.addUser("reporting", "$hash"), (error) => {
      assert.ok(error instanceof StoreFailure);
      assert.equal(error.code, "name_taken");
      assert.match(error.message, /^Name "reporting" is the id of a client that acts for itself/);
      return true;
    });
    assert.equal(await store.getUser("reporting"), undefined);
    assert.deepEqual(await store.listUsers(), []);
    // A client that never gets tokens for itself is never a token's subject.
    await store.addUser("app", "$hash");
    assert.ok(await store.getUser("app"));
  });

  test("removeUser forgets the consents the account gave, and a new account of the name has none", async (store) => {
    await store.addUser("alice", "$hash-a");
    await store.addUser("bob", "$hash-b");
    const alice = (await store.getUser("alice"))!.subject;
    const bob = (await store.getUser("bob"))!.subject;
    await store.saveConsent(alice, "app", "openid", NOW);
    await store.saveConsent(alice, "other", "openid profile", NOW);
    await store.saveConsent(bob, "app", "openid", NOW);
    await store.removeUser("alice", NOW);
    assert.equal(await store.getConsent(alice, "app"), undefined);
    assert.equal(await store.getConsent(alice, "other"), undefined);
    assert.equal(await store.getConsent(bob, "app"), "openid", "other users keep theirs");
    await store.addUser("alice", "$hash-a2");
    const again = (await store.getUser("alice"))!.subject;
    assert.equal(await store.getConsent(again, "app"), undefined);
  });

  test("listUsers returns [] when empty and names in alphabetical order", async (store) => {
    assert.deepEqual(await store.listUsers(), []);
    for (const username of ["carol", "alice", "dave", "bob"]) {
      await store.addUser(username, "$hash");
    }
    assert.deepEqual(await store.listUsers(), ["alice", "bob", "carol", "dave"]);
  });

  test("removeUser forgets the user and reports found, or not found when there is none", async (store) => {
    await store.addUser("alice", "$hash-a");
    await store.addUser("bob", "$hash-b");
    assert.deepEqual(await store.removeUser("alice", NOW), { found: true, sessionsEnded: 0 });
    assert.equal(await store.getUser("alice"), undefined);
    assert.deepEqual(await store.listUsers(), ["bob"]);
    assert.deepEqual(await store.removeUser("alice", NOW), { found: false, sessionsEnded: 0 });
    assert.deepEqual(await store.removeUser("nobody", NOW), { found: false, sessionsEnded: 0 });
    await store.addUser("alice", "$hash-new");
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-new");
  });

  test("changePassword replaces the hash, or reports not found and creates no user", async (store) => {
    await store.addUser("alice", "$hash-a");
    await store.addUser("bob", "$hash-b");
    assert.deepEqual(await store.changePassword("alice", "$hash-a2", NOW), {
      found: true,
      sessionsEnded: 0,
    });
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a2");
    assert.equal((await store.getUser("bob"))?.passwordHash, "$hash-b");
    assert.deepEqual(await store.changePassword("nobody", "$hash", NOW), {
      found: false,
      sessionsEnded: 0,
    });
    assert.equal(await store.getUser("nobody"), undefined);
  });

  test("demo users are listed until their password is set or they are removed", async (store) => {
    assert.deepEqual(await store.listDemoUsers(), []);
    await store.addUser("user2", "$hash-2", { demo: true });
    await store.addUser("user1", "$hash-1", { demo: true });
    await store.addUser("alice", "$hash-a");
    await store.addUser("bob", "$hash-b", { demo: false });
    assert.deepEqual(await store.listDemoUsers(), ["user1", "user2"]);
    assert.deepEqual(await store.listUsers(), ["alice", "bob", "user1", "user2"]);
    // An upgrade of the same (public) password keeps the mark; a new password clears it.
    assert.equal(await store.replacePasswordHash("user1", "$hash-1", "$hash-1b"), true);
    assert.deepEqual(await store.listDemoUsers(), ["user1", "user2"]);
    assert.equal((await store.changePassword("user1", "$hash-new", NOW)).found, true);
    assert.deepEqual(await store.listDemoUsers(), ["user2"]);
    assert.equal((await store.removeUser("user2", NOW)).found, true);
    assert.deepEqual(await store.listDemoUsers(), []);
  });

  test("replacePasswordHash replaces only the expected hash", async (store) => {
    await store.addUser("alice", "$hash-a");
    assert.equal(await store.replacePasswordHash("alice", "$hash-other", "$hash-x"), false);
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a");
    assert.equal(await store.replacePasswordHash("alice", "$hash-a", "$hash-a2"), true);
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a2");
    assert.equal(
      await store.replacePasswordHash("alice", "$hash-a", "$hash-a3"),
      false,
      "replayed",
    );
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a2");
    assert.equal(await store.replacePasswordHash("nobody", "$hash-a", "$hash"), false);
    assert.equal(await store.getUser("nobody"), undefined);
  });

  test("replacePasswordHash racing changePassword never undoes the new password", async (store) => {
    await store.addUser("alice", "$old");
    for (let round = 0; round < 50; round++) {
      await store.changePassword("alice", "$old", NOW);
      const changes = [
        store.replacePasswordHash("alice", "$old", "$old-upgraded"),
        store.changePassword("alice", `$new-${round}`, NOW),
      ];
      await Promise.all(round % 2 ? changes : changes.reverse());
      assert.equal((await store.getUser("alice"))?.passwordHash, `$new-${round}`, `round ${round}`);
    }
  });

  test("countPasswordIterations counts users per PBKDF2 iteration count", async (store) => {
    assert.deepEqual(await store.countPasswordIterations(), new Map());
    const hash = (iterations: string) => `$pbkdf2-sha256$i=${iterations}$c2FsdA$ZGlnZXN0`;
    await store.addUser("a", hash("600000"));
    await store.addUser("b", hash("600000"));
    await store.addUser("c", hash("1000"));
    await store.addUser("d", "not a hash");
    await store.addUser("e", "$pbkdf2-sha512$i=5$c2FsdA$ZGlnZXN0");
    await store.addUser("f", "$pbkdf2-sha256$i=x$c2FsdA$ZGlnZXN0");
    assert.deepEqual(
      await store.countPasswordIterations(),
      new Map([[600_000, 2], [1000, 1]]),
    );
  });

  // --- account changes end sessions ---

  test("endUserSessions revokes the user's live families, records sid revocations for live access tokens and counts live sessions", async (store) => {
    const now = NOW + 100;
    await startFamily(store, familyRecord("live"), "h-live");
    // Refresh tokens over, access tokens still accepted.
    await startFamily(
      store,
      familyRecord("access-only", { expiresAt: now, accessExpiresAt: now + 50 }),
      "h-ao",
      { expiresAt: now },
    );
    // Over entirely.
    await startFamily(
      store,
      familyRecord("over", { expiresAt: now - 10, accessExpiresAt: now - 5 }),
      "h-over",
      { expiresAt: now - 10 },
    );
    await startFamily(store, familyRecord("revoked"), "h-revoked");
    await store.revokeRefreshFamily("revoked", NOW + 1);
    await startFamily(store, familyRecord("bobs", { username: "bob" }), "h-bob");
    const before = await store.listRevocations(0, now);

    assert.deepEqual(await store.endUserSessions("alice", now), { found: true, sessionsEnded: 2 });

    const expected = { "h-live": now, "h-ao": now, "h-over": now, "h-revoked": NOW + 1 };
    for (const [hash, revokedAt] of Object.entries(expected)) {
      assert.equal((await store.getRefreshToken(hash))?.family.revokedAt, revokedAt, hash);
    }
    const bobs = await store.getRefreshToken("h-bob");
    assert.equal(bobs?.family.revokedAt, null, "other users keep theirs");
    const added = (await store.listRevocations(before.at(-1)!.seq, now))
      .map(({ kind, id, expiresAt }) => ({ kind, id, expiresAt }))
      .sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(added, [
      { kind: "sid", id: "access-only", expiresAt: now + 50 },
      { kind: "sid", id: "live", expiresAt: NOW + 930 },
    ]);
    const refused = await store.rotateRefreshToken("h-live", now + 1, nextToken("n"));
    assert.equal(refused.outcome, "revoked");
    // Nothing is left to end; an unknown user is reported as such.
    assert.deepEqual(await store.endUserSessions("alice", now + 1), {
      found: true,
      sessionsEnded: 0,
    });
    assert.deepEqual(await store.endUserSessions("ghost", now + 1), {
      found: false,
      sessionsEnded: 0,
    });
    assert.equal((await store.getRefreshToken("h-bob"))?.family.revokedAt, null);
  });

  test("changePassword and removeUser end the user's sessions in the same step", async (store) => {
    for (const change of ["changePassword", "removeUser"] as const) {
      const username = `user-${change}`;
      await startFamily(store, familyRecord(`${change}-1`, { username }), `${change}-h1`);
      await startFamily(store, familyRecord(`${change}-2`, { username }), `${change}-h2`);
      const result = change === "changePassword"
        ? await store.changePassword(username, "$hash-new", NOW + 5)
        : await store.removeUser(username, NOW + 5);
      assert.deepEqual(result, { found: true, sessionsEnded: 2 }, change);
      for (const hash of [`${change}-h1`, `${change}-h2`]) {
        const rotated = await store.rotateRefreshToken(hash, NOW + 6, nextToken(`${hash}-next`));
        assert.equal(rotated.outcome, "revoked", hash);
      }
      const sids = (await store.listRevocations(0, NOW + 5)).map((record) => record.id);
      assert.ok(sids.includes(`${change}-1`) && sids.includes(`${change}-2`), sids.join());
      // The old password can no longer start a session.
      const token = tokenRecord(`${change}-h3`, `${change}-3`);
      const family = familyRecord(`${change}-3`, { username });
      assert.equal(await store.startRefreshFamily(family, token, HASH), false, change);
    }
  });

  test("endUserSessions, changePassword and removeUser end the user's browser sessions and their links, counting live ones", async (store) => {
    const changes = {
      endUserSessions: (username: string) => store.endUserSessions(username, NOW + 5),
      changePassword: (username: string) => store.changePassword(username, "$hash-new", NOW + 5),
      removeUser: (username: string) => store.removeUser(username, NOW + 5),
    };
    await store.addUser("bob", HASH);
    await store.addBrowserSession(browserSession("bob-h", "bob-sid", { username: "bob" }));
    for (const [name, change] of Object.entries(changes)) {
      const username = `user-${name}`;
      await store.addUser(username, HASH);
      await store.addBrowserSession(browserSession(`${name}-h1`, `${name}-sid1`, { username }));
      await store.addBrowserSession(
        browserSession(`${name}-h2`, `${name}-sid2`, { username, idleExpiresAt: NOW }),
      );
      await startFamily(store, familyRecord(`${name}-f`, { username }), `${name}-fh`);
      assert.equal(await store.linkSessionFamily(`${name}-sid1`, `${name}-f`), true);

      // The family and the live browser session; the idle one had ended already.
      assert.deepEqual(await change(username), { found: true, sessionsEnded: 2 }, name);
      for (const idHash of [`${name}-h1`, `${name}-h2`]) {
        assert.equal(await store.getBrowserSession(idHash), undefined, idHash);
      }
      assert.equal(await store.endBrowserSession(`${name}-sid1`), undefined, name);
      assert.equal(
        await store.linkSessionFamily(`${name}-sid1`, `${name}-g`),
        false,
        `${name}: no family is linked to it afterwards`,
      );
    }
    assert.equal(
      (await store.getBrowserSession("bob-h"))?.sid,
      "bob-sid",
      "other users keep theirs",
    );
  });

  // --- across connections ---

  testReopening(
    "keeps users, keys, throttle state and secrets across close and reopen",
    async (store, reopen) => {
      await store.addUser("alice", "$hash-a");
      const key = keyRecord("k1", NOW);
      await store.ensureSigningKey(key, NOW);
      const state = { failures: 2, windowStartAt: 5, blockedUntil: 6 };
      await writeThrottle(store, "account:alice", state);
      await store.ensureSecret("device", "kept");
      const again = await reopen();
      await store.close();
      assert.equal((await again.getUser("alice"))?.passwordHash, "$hash-a");
      assert.deepEqual(await again.listUsers(), ["alice"]);
      assert.deepEqual(await again.listSigningKeys(NOW), [publicHalf(key)]);
      assert.deepEqual(await readThrottle(again, "account:alice"), state);
      assert.equal(await again.ensureSecret("device", "other"), "kept");
    },
  );

  testReopening(
    "addUser and addClient of one name from two connections at once: exactly one succeeds",
    async (store, reopen) => {
      const other = await reopen();
      for (let round = 0; round < 20; round++) {
        const name = `both-${round}`;
        const client = clientRecord(name, { grantTypes: ["client_credentials"] });
        const adds = [store.addUser(name, HASH), other.addClient(client)];
        const results = await Promise.allSettled(round % 2 ? adds : adds.reverse());
        const refused = results.filter((result) => result.status === "rejected");
        assert.equal(refused.length, 1, `round ${round}: one name, one kind`);
        const { reason } = refused[0] as PromiseRejectedResult;
        assert.ok(reason instanceof StoreFailure && reason.code === "name_taken", String(reason));
        const kinds = [await other.getUser(name), await store.getClient(name)];
        assert.equal(kinds.filter(Boolean).length, 1, `round ${round}: stored as one kind`);
      }
    },
  );

  testReopening("two connections see each other's writes", async (store, reopen) => {
    const other = await reopen();
    await store.addUser("alice", "$hash-a");
    assert.equal((await other.getUser("alice"))?.passwordHash, "$hash-a");
    assert.equal(await other.replacePasswordHash("alice", "$hash-a", "$hash-a2"), true);
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a2");
    await assert.rejects(other.addUser("alice", "$hash-x"), StoreFailure);

    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    assert.equal((await other.ensureSigningKey(keyRecord("k2", NOW), NOW)).kid, "k1");
    await other.rotateSigningKey(keyRecord("k3", NOW + 1), NOW + 60, NOW + 1);
    assert.deepEqual((await store.listSigningKeys(NOW + 1)).map((k) => k.kid), ["k3", "k1"]);

    await increment(store, ["k"]);
    await increment(other, ["k"]);
    await Promise.all([increment(store, ["k"]), increment(other, ["k"])]);
    assert.equal((await readThrottle(store, "k"))?.failures, 4);
    await other.updateThrottles(["k"], () => ({ writes: { k: null }, result: 0 }));
    assert.equal(await readThrottle(store, "k"), undefined);

    // Both connections reserve against one budget at once: exactly the budget gets through.
    const outcomes = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) => reserve(i % 2 ? store : other, ["account:bob", "address:x"], 4),
      ),
    );
    assert.equal(outcomes.filter(Boolean).length, 4);
    assert.equal(
      await other.ensureSecret("device", "a"),
      await store.ensureSecret("device", "b"),
    );

    assert.deepEqual(await other.removeUser("alice", NOW), { found: true, sessionsEnded: 0 });
    assert.equal(await store.getUser("alice"), undefined);
  });
}
