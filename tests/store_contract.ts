import assert from "node:assert/strict";
import { unixNow } from "../src/clock.ts";
import { StoreFailure } from "../src/store/errors.ts";
import {
  type NewSigningKey,
  publicHalf,
  type RefreshTokenRecord,
  type Store,
  type ThrottleRecord,
} from "../src/store/store.ts";

/** Optional capabilities of the store under test. */
export interface StoreContractOptions {
  /**
   * Opens another connection to the database behind `store` (for SQLite: the same file). Enables
   * the persistence, two-connection and re-migration tests.
   */
  reopen?: (store: Store) => Promise<Store>;
  /** Runs after each test, once the store is closed (for example to drop its database). */
  cleanup?: (store: Store) => Promise<void>;
  /** Registers the tests as ignored, when the store's server is not available. */
  ignore?: boolean;
}

/** A signing key record with dummy key material; the store never looks inside it. */
function keyRecord(
  kid: string,
  createdAt: number,
  retiresAt: number | null = null,
): NewSigningKey {
  return {
    kid,
    alg: "ES256",
    privateJwk: JSON.stringify({ kty: "EC", kid, d: "private" }),
    publicJwk: JSON.stringify({ kty: "EC", kid }),
    createdAt,
    retiresAt,
  };
}

const NOW = 1_900_000_000;

/** A refresh token record valid for an hour from NOW, unused and unrevoked. */
function refreshRecord(
  tokenHash: string,
  familyId: string,
  fields: Partial<RefreshTokenRecord> = {},
): RefreshTokenRecord {
  return {
    tokenHash,
    familyId,
    username: "alice",
    clientId: "auth-api",
    scope: "hello",
    createdAt: NOW,
    expiresAt: NOW + 3600,
    usedAt: null,
    revokedAt: null,
    ...fields,
  };
}

/**
 * Registers the behaviour every `Store` must have as `Deno.test` cases named `"<name> …"`.
 * `open` must return a new, empty store on each call.
 *
 * @example
 * ```ts
 * storeContract("SqliteStore", () => SqliteStore.open(":memory:"));
 * ```
 */
export function storeContract(
  name: string,
  open: () => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  const { reopen, cleanup, ignore } = options;

  /** Runs `fn` on a fresh store and closes it afterwards. */
  function test(title: string, fn: (store: Store) => Promise<void>): void {
    Deno.test({
      name: `${name} ${title}`,
      ignore,
      async fn() {
        const store = await open();
        try {
          await fn(store);
        } finally {
          await store.close();
          await cleanup?.(store);
        }
      },
    });
  }

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

  test("listUsers returns [] when empty and names in alphabetical order", async (store) => {
    assert.deepEqual(await store.listUsers(), []);
    for (const username of ["carol", "alice", "dave", "bob"]) {
      await store.addUser(username, "$hash");
    }
    assert.deepEqual(await store.listUsers(), ["alice", "bob", "carol", "dave"]);
  });

  test("removeUser returns true and forgets the user, false when there is none", async (store) => {
    await store.addUser("alice", "$hash-a");
    await store.addUser("bob", "$hash-b");
    assert.equal(await store.removeUser("alice"), true);
    assert.equal(await store.getUser("alice"), undefined);
    assert.deepEqual(await store.listUsers(), ["bob"]);
    assert.equal(await store.removeUser("alice"), false);
    assert.equal(await store.removeUser("nobody"), false);
    await store.addUser("alice", "$hash-new");
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-new");
  });

  test("setPasswordHash returns true and replaces the hash, false for no such user", async (store) => {
    await store.addUser("alice", "$hash-a");
    await store.addUser("bob", "$hash-b");
    assert.equal(await store.setPasswordHash("alice", "$hash-a2"), true);
    assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a2");
    assert.equal((await store.getUser("bob"))?.passwordHash, "$hash-b");
    assert.equal(await store.setPasswordHash("nobody", "$hash"), false);
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
    assert.equal(await store.setPasswordHash("user1", "$hash-new"), true);
    assert.deepEqual(await store.listDemoUsers(), ["user2"]);
    assert.equal(await store.removeUser("user2"), true);
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

  test("replacePasswordHash racing setPasswordHash never undoes the new password", async (store) => {
    await store.addUser("alice", "$old");
    for (let round = 0; round < 50; round++) {
      await store.setPasswordHash("alice", "$old");
      const changes = [
        store.replacePasswordHash("alice", "$old", "$old-upgraded"),
        store.setPasswordHash("alice", `$new-${round}`),
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

  // --- signing keys ---

  test("listSigningKeys is empty for a new store", async (store) => {
    assert.deepEqual(await store.listSigningKeys(NOW), []);
  });

  test("ensureSigningKey inserts the key when there is none and returns its public half", async (store) => {
    const key = keyRecord("k1", NOW);
    assert.deepEqual(await store.ensureSigningKey(key, NOW), publicHalf(key));
    assert.deepEqual(await store.listSigningKeys(NOW), [publicHalf(key)]);
    assert.equal(await store.currentPrivateJwk("k1"), key.privateJwk);
  });

  test("ensureSigningKey keeps an unretired key and returns it instead", async (store) => {
    const first = keyRecord("k1", NOW);
    await store.ensureSigningKey(first, NOW);
    assert.deepEqual(
      await store.ensureSigningKey(keyRecord("k2", NOW + 5), NOW + 5),
      publicHalf(first),
    );
    assert.deepEqual(await store.listSigningKeys(NOW + 5), [publicHalf(first)]);
    assert.equal(await store.currentPrivateJwk("k2"), undefined);
  });

  test("ensureSigningKey inserts when every key has retired", async (store) => {
    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    await store.rotateSigningKey(keyRecord("k2", NOW + 10), NOW + 20, NOW + 10);
    // k2 is current (retiresAt null), so nothing is inserted yet.
    assert.equal((await store.ensureSigningKey(keyRecord("k3", NOW + 30), NOW + 30)).kid, "k2");
    // Retire k2 by rotating to a key that has itself already retired.
    await store.rotateSigningKey(keyRecord("k4", NOW + 40, NOW + 41), NOW + 41, NOW + 40);
    const fresh = keyRecord("k5", NOW + 50);
    assert.deepEqual(await store.ensureSigningKey(fresh, NOW + 50), publicHalf(fresh));
    assert.deepEqual((await store.listSigningKeys(NOW + 50)).map((k) => k.kid), ["k5"]);
  });

  test("rotateSigningKey retires the current key at the given time", async (store) => {
    const first = keyRecord("k1", NOW);
    await store.ensureSigningKey(first, NOW);
    const second = keyRecord("k2", NOW + 100);
    await store.rotateSigningKey(second, NOW + 160, NOW + 100);
    const retiring = { ...publicHalf(first), retiresAt: NOW + 160 };
    assert.deepEqual(await store.listSigningKeys(NOW + 100), [publicHalf(second), retiring]);
    assert.deepEqual(await store.listSigningKeys(NOW + 159), [publicHalf(second), retiring]);
    assert.deepEqual(
      await store.listSigningKeys(NOW + 160),
      [publicHalf(second)],
      "retired at retiresAt",
    );
  });

  test("rotateSigningKey erases the private half of the key that stops signing", async (store) => {
    const first = keyRecord("k1", NOW);
    await store.ensureSigningKey(first, NOW);
    assert.equal(await store.currentPrivateJwk("k1"), first.privateJwk);
    const second = keyRecord("k2", NOW + 100);
    await store.rotateSigningKey(second, NOW + 160, NOW + 100);
    assert.equal(await store.currentPrivateJwk("k1"), undefined, "gone while still verifying");
    assert.equal(await store.currentPrivateJwk("k2"), second.privateJwk);
    assert.equal(await store.currentPrivateJwk("unknown"), undefined);
    // The public half keeps verifying until retirement.
    assert.deepEqual((await store.listSigningKeys(NOW + 100)).map((k) => k.kid), ["k2", "k1"]);
  });

  test("revokeSigningKey of the current key deletes it and makes the replacement current", async (store) => {
    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    await store.rotateSigningKey(keyRecord("k2", NOW + 10), NOW + 500, NOW + 10);
    const replacement = keyRecord("k3", NOW + 20);
    assert.equal(await store.revokeSigningKey("k2", replacement), "current");
    assert.deepEqual((await store.listSigningKeys(NOW + 20)).map((k) => [k.kid, k.retiresAt]), [
      ["k3", null],
      ["k1", NOW + 500],
    ]);
    assert.equal(await store.currentPrivateJwk("k3"), replacement.privateJwk);
    assert.equal(await store.currentPrivateJwk("k2"), undefined);
    // Replayed: the key is gone, nothing changes.
    assert.equal(await store.revokeSigningKey("k2", keyRecord("k4", NOW + 30)), "unknown");
    assert.deepEqual((await store.listSigningKeys(0)).map((k) => k.kid), ["k3", "k1"]);
  });

  test("revokeSigningKey of a retiring key deletes it and keeps the current key", async (store) => {
    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    await store.rotateSigningKey(keyRecord("k2", NOW + 10), NOW + 500, NOW + 10);
    assert.equal(await store.revokeSigningKey("k1", keyRecord("k3", NOW + 20)), "retiring");
    assert.deepEqual((await store.listSigningKeys(0)).map((k) => [k.kid, k.retiresAt]), [
      ["k2", null],
    ]);
    assert.equal(await store.revokeSigningKey("nope", keyRecord("k4", NOW + 20)), "unknown");
    assert.deepEqual((await store.listSigningKeys(0)).map((k) => k.kid), ["k2"]);
  });

  test("rotateSigningKey deletes keys that retired before now", async (store) => {
    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    await store.rotateSigningKey(keyRecord("k2", NOW + 100), NOW + 160, NOW + 100);
    await store.rotateSigningKey(keyRecord("k3", NOW + 200), NOW + 260, NOW + 200);
    // Asking about time 0 shows every key still stored: k1 (retired at NOW + 160) is gone.
    assert.deepEqual((await store.listSigningKeys(0)).map((k) => k.kid), ["k3", "k2"]);
    const k2 = (await store.listSigningKeys(0))[1];
    assert.equal(k2.retiresAt, NOW + 260);
  });

  test("rotateSigningKey leaves keys that are still retiring untouched", async (store) => {
    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    await store.rotateSigningKey(keyRecord("k2", NOW + 10), NOW + 1000, NOW + 10);
    await store.rotateSigningKey(keyRecord("k3", NOW + 20), NOW + 2000, NOW + 20);
    const keys = await store.listSigningKeys(NOW + 20);
    assert.deepEqual(keys.map((k) => [k.kid, k.retiresAt]), [
      ["k3", null],
      ["k2", NOW + 2000],
      ["k1", NOW + 1000],
    ]);
  });

  test("listSigningKeys excludes retired keys and lists the newest first", async (store) => {
    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    await store.rotateSigningKey(keyRecord("k2", NOW + 10), NOW + 500, NOW + 10);
    await store.rotateSigningKey(keyRecord("k3", NOW + 20), NOW + 30, NOW + 20);
    assert.deepEqual((await store.listSigningKeys(NOW + 20)).map((k) => k.kid), [
      "k3",
      "k2",
      "k1",
    ]);
    // k2 retired at NOW + 30, k1 keeps NOW + 500.
    assert.deepEqual((await store.listSigningKeys(NOW + 30)).map((k) => k.kid), ["k3", "k1"]);
    assert.deepEqual((await store.listSigningKeys(NOW + 500)).map((k) => k.kid), ["k3"]);
  });

  test("listSigningKeys lists the later of two keys made in the same second first", async (store) => {
    await store.ensureSigningKey(keyRecord("first", NOW), NOW);
    await store.rotateSigningKey(keyRecord("second", NOW), NOW + 60, NOW);
    assert.deepEqual((await store.listSigningKeys(NOW)).map((k) => k.kid), ["second", "first"]);
  });

  test("signing key records round-trip every field", async (store) => {
    const key: NewSigningKey = {
      kid: "kid-1",
      alg: "ES256",
      privateJwk: '{"kty":"EC","crv":"P-256","d":"secret","x":"x","y":"y"}',
      publicJwk: '{"kty":"EC","crv":"P-256","x":"x","y":"y"}',
      createdAt: NOW,
      retiresAt: null,
    };
    await store.ensureSigningKey(key, NOW);
    assert.deepEqual(await store.listSigningKeys(NOW), [publicHalf(key)]);
    assert.equal(await store.currentPrivateJwk("kid-1"), key.privateJwk);
  });

  // --- throttle ---

  test("getThrottle returns undefined for an unknown key", async (store) => {
    assert.equal(await store.getThrottle("account:alice"), undefined);
  });

  test("recordFailure passes the current state to update and persists the result", async (store) => {
    const seen: (ThrottleRecord | undefined)[] = [];
    const update = (current: ThrottleRecord | undefined): ThrottleRecord => {
      seen.push(current);
      return {
        failures: (current?.failures ?? 0) + 1,
        windowStartAt: current?.windowStartAt ?? 1_000,
        blockedUntil: (current?.failures ?? 0) >= 1 ? 9_000 : 0,
      };
    };
    const first = await store.recordFailure("account:alice", update);
    assert.deepEqual(first, { failures: 1, windowStartAt: 1_000, blockedUntil: 0 });
    assert.deepEqual(await store.getThrottle("account:alice"), first);
    const second = await store.recordFailure("account:alice", update);
    assert.deepEqual(second, { failures: 2, windowStartAt: 1_000, blockedUntil: 9_000 });
    assert.deepEqual(await store.getThrottle("account:alice"), second);
    assert.deepEqual(seen, [undefined, first]);
  });

  test("recordFailure keeps large millisecond timestamps exactly", async (store) => {
    const state = {
      failures: 3,
      windowStartAt: 4_102_444_800_123,
      blockedUntil: 4_102_444_900_456,
    };
    await store.recordFailure("address:203.0.113.1", () => state);
    assert.deepEqual(await store.getThrottle("address:203.0.113.1"), state);
  });

  test("recordFailure stores nothing when update throws", async (store) => {
    const boom = new Error("Boom");
    // An implementation may throw or reject; callers always await.
    await assert.rejects(
      async () =>
        await store.recordFailure("account:alice", () => {
          throw boom;
        }),
      (error) => error === boom,
    );
    assert.equal(await store.getThrottle("account:alice"), undefined);
    // The store is still usable afterwards.
    await store.recordFailure(
      "account:alice",
      () => ({ failures: 1, windowStartAt: 1, blockedUntil: 0 }),
    );
    assert.equal((await store.getThrottle("account:alice"))?.failures, 1);
  });

  test("recordFailure keeps keys apart", async (store) => {
    await store.recordFailure(
      "account:alice",
      () => ({ failures: 1, windowStartAt: 1, blockedUntil: 0 }),
    );
    await store.recordFailure(
      "address:alice",
      () => ({ failures: 7, windowStartAt: 2, blockedUntil: 3 }),
    );
    assert.equal((await store.getThrottle("account:alice"))?.failures, 1);
    assert.equal((await store.getThrottle("address:alice"))?.failures, 7);
    assert.equal(await store.getThrottle("account:bob"), undefined);
  });

  test("recordFailure counts every one of many concurrent failures", async (store) => {
    const increment = (current: ThrottleRecord | undefined): ThrottleRecord => ({
      failures: (current?.failures ?? 0) + 1,
      windowStartAt: 1,
      blockedUntil: 0,
    });
    await Promise.all(Array.from({ length: 25 }, () => store.recordFailure("k", increment)));
    assert.equal((await store.getThrottle("k"))?.failures, 25);
  });

  test("clearThrottle forgets one key and ignores unknown keys", async (store) => {
    await store.recordFailure(
      "account:alice",
      () => ({ failures: 4, windowStartAt: 1, blockedUntil: 0 }),
    );
    await store.recordFailure(
      "account:bob",
      () => ({ failures: 2, windowStartAt: 1, blockedUntil: 0 }),
    );
    await store.clearThrottle("account:alice");
    assert.equal(await store.getThrottle("account:alice"), undefined);
    assert.equal((await store.getThrottle("account:bob"))?.failures, 2);
    await store.clearThrottle("account:nobody");
    await store.clearThrottle("account:alice");
  });

  // --- refresh tokens ---

  test("getRefreshToken returns undefined for an unknown hash", async (store) => {
    assert.equal(await store.getRefreshToken("0".repeat(64)), undefined);
  });

  test("addRefreshToken then getRefreshToken returns every field", async (store) => {
    const fresh = refreshRecord("a".repeat(64), "family-1", {
      username: "Zoë 🦕",
      clientId: "client'); DROP TABLE refresh_tokens;--",
      scope: "hello read:all",
      createdAt: 4_102_444_800,
      expiresAt: 4_102_444_800 + 30 * 24 * 3600,
    });
    const spent = refreshRecord("b".repeat(64), "family-2", {
      usedAt: NOW + 5,
      revokedAt: NOW + 6,
    });
    await store.addRefreshToken(fresh);
    await store.addRefreshToken(spent);
    assert.deepEqual(await store.getRefreshToken(fresh.tokenHash), fresh);
    assert.deepEqual(await store.getRefreshToken(spent.tokenHash), spent);
    assert.equal(await store.getRefreshToken("c".repeat(64)), undefined);
  });

  test("useRefreshToken rotates a valid token once, then reports reuse", async (store) => {
    const record = refreshRecord("h1", "f1");
    await store.addRefreshToken(record);
    assert.deepEqual(await store.useRefreshToken("h1", NOW + 10), {
      outcome: "rotated",
      record: { ...record, usedAt: NOW + 10 },
    });
    assert.deepEqual(await store.getRefreshToken("h1"), { ...record, usedAt: NOW + 10 });
    for (const when of [NOW + 10, NOW + 11]) {
      assert.deepEqual(await store.useRefreshToken("h1", when), {
        outcome: "reused",
        record: { ...record, usedAt: NOW + 10 },
      });
    }
    // Reporting reuse changes nothing.
    assert.deepEqual(await store.getRefreshToken("h1"), { ...record, usedAt: NOW + 10 });
  });

  test('useRefreshToken answers "unknown" for an unknown hash', async (store) => {
    await store.addRefreshToken(refreshRecord("h1", "f1"));
    assert.deepEqual(await store.useRefreshToken("h2", NOW), { outcome: "unknown" });
    assert.deepEqual(await store.useRefreshToken("", NOW), { outcome: "unknown" });
    assert.equal((await store.getRefreshToken("h1"))?.usedAt, null);
  });

  test('useRefreshToken answers "expired" at and after expiresAt, changing nothing', async (store) => {
    const record = refreshRecord("h1", "f1", { expiresAt: NOW + 100 });
    await store.addRefreshToken(record);
    for (const when of [NOW + 100, NOW + 101, NOW + 1_000_000]) {
      assert.deepEqual(await store.useRefreshToken("h1", when), { outcome: "expired", record });
    }
    assert.deepEqual(await store.getRefreshToken("h1"), record);
    // One second earlier it is still valid.
    assert.equal((await store.useRefreshToken("h1", NOW + 99)).outcome, "rotated");
  });

  test('revokeRefreshFamily revokes every token of the family and no other ("revoked")', async (store) => {
    await store.addRefreshToken(refreshRecord("f1-used", "f1", { usedAt: NOW + 1 }));
    await store.addRefreshToken(refreshRecord("f1-live", "f1", { createdAt: NOW + 1 }));
    await store.addRefreshToken(refreshRecord("f1-old", "f1", { expiresAt: NOW + 2 }));
    await store.addRefreshToken(refreshRecord("f2-live", "f2"));
    await store.revokeRefreshFamily("f1", NOW + 5);
    for (const hash of ["f1-used", "f1-live", "f1-old"]) {
      assert.equal((await store.getRefreshToken(hash))?.revokedAt, NOW + 5, hash);
    }
    for (const hash of ["f1-used", "f1-live"]) {
      const result = await store.useRefreshToken(hash, NOW + 6);
      assert.ok(result.outcome === "revoked", `${hash}: ${result.outcome}`);
      assert.equal(result.record.revokedAt, NOW + 5);
    }
    assert.equal((await store.getRefreshToken("f1-live"))?.usedAt, null, "not spent by refusal");
    // The other family is untouched.
    assert.deepEqual(await store.getRefreshToken("f2-live"), refreshRecord("f2-live", "f2"));
    assert.equal((await store.useRefreshToken("f2-live", NOW + 6)).outcome, "rotated");
    // Revoking again keeps the first time; an unknown family is a no-op.
    await store.revokeRefreshFamily("f1", NOW + 50);
    assert.equal((await store.getRefreshToken("f1-live"))?.revokedAt, NOW + 5);
    await store.revokeRefreshFamily("no-such-family", NOW + 50);
    assert.equal((await store.getRefreshToken("f2-live"))?.revokedAt, null);
  });

  test("useRefreshToken of one token from 5 concurrent callers rotates it exactly once", async (store) => {
    await store.addRefreshToken(refreshRecord("h1", "f1"));
    const results = await Promise.all(
      Array.from({ length: 5 }, () => store.useRefreshToken("h1", NOW + 1)),
    );
    const outcomes = results.map((result) => result.outcome).sort();
    assert.deepEqual(outcomes, ["reused", "reused", "reused", "reused", "rotated"]);
  });

  // --- revocations ---

  test("listRevocations is empty for a new store", async (store) => {
    assert.deepEqual(await store.listRevocations(0, NOW), []);
  });

  test("addRevocation assigns increasing seq and listRevocations filters by afterSeq", async (store) => {
    await store.addRevocation("jti", "token-1", NOW + 100);
    await store.addRevocation("sid", "family-1", NOW + 200);
    await store.addRevocation("jti", "token-2", NOW + 300);
    // The same id under the other kind is a separate revocation.
    await store.addRevocation("sid", "token-1", NOW + 400);
    const all = await store.listRevocations(0, NOW);
    assert.deepEqual(all.map(({ kind, id, expiresAt }) => ({ kind, id, expiresAt })), [
      { kind: "jti", id: "token-1", expiresAt: NOW + 100 },
      { kind: "sid", id: "family-1", expiresAt: NOW + 200 },
      { kind: "jti", id: "token-2", expiresAt: NOW + 300 },
      { kind: "sid", id: "token-1", expiresAt: NOW + 400 },
    ]);
    for (const record of all) assert.ok(Number.isSafeInteger(record.seq) && record.seq > 0);
    for (let i = 1; i < all.length; i++) {
      assert.ok(all[i].seq > all[i - 1].seq, `seq increases: ${all.map((r) => r.seq)}`);
    }
    for (let i = 0; i < all.length; i++) {
      assert.deepEqual(await store.listRevocations(all[i].seq, NOW), all.slice(i + 1));
    }
    assert.deepEqual(await store.listRevocations(all[0].seq - 1, NOW), all);
  });

  test("listRevocations leaves out revocations expired by now", async (store) => {
    await store.addRevocation("jti", "short", NOW + 10);
    await store.addRevocation("jti", "long", NOW + 100);
    assert.deepEqual((await store.listRevocations(0, NOW + 9)).map((r) => r.id), [
      "short",
      "long",
    ]);
    assert.deepEqual((await store.listRevocations(0, NOW + 10)).map((r) => r.id), ["long"]);
    assert.deepEqual(await store.listRevocations(0, NOW + 100), []);
  });

  test("addRevocation of the same kind and id again keeps one record with the later expiry", async (store) => {
    await store.addRevocation("sid", "family-1", NOW + 100);
    await store.addRevocation("sid", "family-1", NOW + 50);
    let listed = await store.listRevocations(0, NOW);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].expiresAt, NOW + 100, "an earlier expiry does not shorten it");
    await store.addRevocation("sid", "family-1", NOW + 300);
    listed = await store.listRevocations(0, NOW);
    assert.deepEqual(listed.map(({ kind, id, expiresAt }) => ({ kind, id, expiresAt })), [
      { kind: "sid", id: "family-1", expiresAt: NOW + 300 },
    ]);
    // Still listed after the first expiry passed.
    assert.equal((await store.listRevocations(0, NOW + 200)).length, 1);
  });

  test("addRevocation from many concurrent callers gives each a distinct seq", async (store) => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.addRevocation("jti", `token-${i}`, NOW + 100)),
    );
    const seqs = (await store.listRevocations(0, NOW)).map((record) => record.seq);
    assert.equal(new Set(seqs).size, 20);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  });

  // --- pruning ---

  test("pruneExpired deletes expired refresh tokens and revocations and keeps live ones", async (store) => {
    const live = refreshRecord("live", "f1", { expiresAt: NOW + 1 });
    const spent = refreshRecord("spent", "f1", { expiresAt: NOW + 1, usedAt: NOW - 5 });
    const revoked = refreshRecord("revoked", "f2", { expiresAt: NOW + 1, revokedAt: NOW - 5 });
    await store.addRefreshToken(live);
    await store.addRefreshToken(spent);
    await store.addRefreshToken(revoked);
    await store.addRefreshToken(refreshRecord("expired-now", "f1", { expiresAt: NOW }));
    await store.addRefreshToken(refreshRecord("expired-before", "f3", { expiresAt: NOW - 1 }));
    await store.addRevocation("jti", "expired-now", NOW);
    await store.addRevocation("sid", "expired-before", NOW - 1);
    await store.addRevocation("jti", "live", NOW + 1);
    const stale = { failures: 3, windowStartAt: NOW - 30 * 86400, blockedUntil: 0 };
    const recent = { failures: 3, windowStartAt: NOW, blockedUntil: 0 };
    const blocked = { failures: 9, windowStartAt: NOW - 30 * 86400, blockedUntil: NOW + 60 };
    await store.recordFailure("account:stale", () => stale);
    await store.recordFailure("account:recent", () => recent);
    await store.recordFailure("account:blocked", () => blocked);

    await store.pruneExpired(NOW);

    assert.equal(await store.getRefreshToken("expired-now"), undefined);
    assert.equal(await store.getRefreshToken("expired-before"), undefined);
    // Spent and revoked tokens stay until they expire: reuse detection needs them.
    assert.deepEqual(await store.getRefreshToken("live"), live);
    assert.deepEqual(await store.getRefreshToken("spent"), spent);
    assert.deepEqual(await store.getRefreshToken("revoked"), revoked);
    // With now = 0 every stored revocation would be listed.
    assert.deepEqual((await store.listRevocations(0, 0)).map((r) => [r.kind, r.id]), [
      ["jti", "live"],
    ]);
    assert.equal(await store.getThrottle("account:stale"), undefined);
    assert.deepEqual(await store.getThrottle("account:recent"), recent);
    assert.deepEqual(await store.getThrottle("account:blocked"), blocked);
    // Pruning again is harmless.
    await store.pruneExpired(NOW);
    assert.deepEqual(await store.getRefreshToken("live"), live);
  });

  test("seq keeps increasing after every revocation was pruned", async (store) => {
    await store.addRevocation("jti", "a", NOW + 1);
    await store.addRevocation("jti", "b", NOW + 1);
    const [, last] = await store.listRevocations(0, NOW);
    await store.pruneExpired(NOW + 1);
    assert.deepEqual(await store.listRevocations(0, 0), []);
    await store.addRevocation("jti", "c", NOW + 100);
    const [next] = await store.listRevocations(0, NOW);
    // An instance that has seen `last` asks for seq > last.seq and must find "c".
    assert.ok(next.seq > last.seq, `${next.seq} > ${last.seq}`);
    assert.deepEqual((await store.listRevocations(last.seq, NOW)).map((r) => r.id), ["c"]);
  });

  test("close can be called twice", async (store) => {
    await store.close();
    await store.close();
  });

  // --- across connections ---

  if (!reopen) return;

  test("keeps users, keys and throttle state across close and reopen", async (store) => {
    await store.addUser("alice", "$hash-a");
    const key = keyRecord("k1", NOW);
    await store.ensureSigningKey(key, NOW);
    const state = { failures: 2, windowStartAt: 5, blockedUntil: 6 };
    await store.recordFailure("account:alice", () => state);
    const again: Store = await reopen(store);
    await store.close();
    try {
      assert.equal((await again.getUser("alice"))?.passwordHash, "$hash-a");
      assert.deepEqual(await again.listUsers(), ["alice"]);
      assert.deepEqual(await again.listSigningKeys(NOW), [publicHalf(key)]);
      assert.deepEqual(await again.getThrottle("account:alice"), state);
    } finally {
      await again.close();
    }
  });

  test("keeps refresh tokens and revocations across close and reopen", async (store) => {
    const live = refreshRecord("live", "f1");
    const spent = refreshRecord("spent", "f1", { usedAt: NOW + 1 });
    const revoked = refreshRecord("revoked", "f2", { revokedAt: NOW + 2 });
    for (const record of [live, spent, revoked]) await store.addRefreshToken(record);
    await store.addRevocation("jti", "token-1", NOW + 100);
    await store.addRevocation("sid", "f2", NOW + 200);
    const revocations = await store.listRevocations(0, NOW);
    const again: Store = await reopen(store);
    await store.close();
    try {
      assert.deepEqual(await again.getRefreshToken("live"), live);
      assert.deepEqual(await again.getRefreshToken("spent"), spent);
      assert.deepEqual(await again.getRefreshToken("revoked"), revoked);
      assert.equal((await again.useRefreshToken("spent", NOW + 3)).outcome, "reused");
      assert.equal((await again.useRefreshToken("revoked", NOW + 3)).outcome, "revoked");
      assert.deepEqual(await again.listRevocations(0, NOW), revocations, "same seq too");
      await again.addRevocation("jti", "token-2", NOW + 300);
      const added = await again.listRevocations(revocations[1].seq, NOW);
      assert.deepEqual(added.map((r) => r.id), ["token-2"]);
    } finally {
      await again.close();
    }
  });

  test("two connections share refresh tokens and revocations", async (store) => {
    const other = await reopen(store);
    try {
      await store.addRefreshToken(refreshRecord("h1", "f1"));
      await store.addRefreshToken(refreshRecord("h2", "f1"));
      await store.addRefreshToken(refreshRecord("h3", "f2"));
      assert.deepEqual(await other.getRefreshToken("h1"), refreshRecord("h1", "f1"));
      assert.equal((await other.useRefreshToken("h1", NOW + 1)).outcome, "rotated");
      assert.equal((await store.useRefreshToken("h1", NOW + 2)).outcome, "reused");
      await store.revokeRefreshFamily("f1", NOW + 3);
      assert.equal((await other.useRefreshToken("h2", NOW + 4)).outcome, "revoked");
      // Both connections race for one token: exactly one wins.
      const results = await Promise.all(
        [store, other, store, other].map((s) => s.useRefreshToken("h3", NOW + 5)),
      );
      assert.equal(results.filter((r) => r.outcome === "rotated").length, 1);

      await store.addRevocation("jti", "token-1", NOW + 100);
      const [first] = await other.listRevocations(0, NOW);
      assert.equal(first.id, "token-1");
      await other.addRevocation("sid", "f1", NOW + 100);
      assert.deepEqual((await store.listRevocations(first.seq, NOW)).map((r) => r.id), ["f1"]);
      await other.pruneExpired(NOW + 100);
      assert.deepEqual(await store.listRevocations(0, 0), []);
      assert.ok(await store.getRefreshToken("h3"), "live refresh tokens survive the pruning");
    } finally {
      await other.close();
    }
  });

  test("two connections see each other's writes", async (store) => {
    const other = await reopen(store);
    try {
      await store.addUser("alice", "$hash-a");
      assert.equal((await other.getUser("alice"))?.passwordHash, "$hash-a");
      assert.equal(await other.setPasswordHash("alice", "$hash-a2"), true);
      assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a2");
      await assert.rejects(other.addUser("alice", "$hash-x"), StoreFailure);

      await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
      assert.equal((await other.ensureSigningKey(keyRecord("k2", NOW), NOW)).kid, "k1");
      await other.rotateSigningKey(keyRecord("k3", NOW + 1), NOW + 60, NOW + 1);
      assert.deepEqual((await store.listSigningKeys(NOW + 1)).map((k) => k.kid), ["k3", "k1"]);

      const increment = (current: ThrottleRecord | undefined): ThrottleRecord => ({
        failures: (current?.failures ?? 0) + 1,
        windowStartAt: 1,
        blockedUntil: 0,
      });
      await store.recordFailure("k", increment);
      await other.recordFailure("k", increment);
      await Promise.all([store.recordFailure("k", increment), other.recordFailure("k", increment)]);
      assert.equal((await store.getThrottle("k"))?.failures, 4);
      await other.clearThrottle("k");
      assert.equal(await store.getThrottle("k"), undefined);

      assert.equal(await other.removeUser("alice"), true);
      assert.equal(await store.getUser("alice"), undefined);
    } finally {
      await other.close();
    }
  });

  test("revocation, rotation and first-key creation racing on two connections leave one current key", async (store) => {
    const other = await reopen(store);
    try {
      await store.ensureSigningKey(keyRecord("start", NOW), NOW);
      for (let round = 0; round < 20; round++) {
        const [current] = (await store.listSigningKeys(NOW)).filter((k) => k.retiresAt === null);
        const outcomes = await Promise.all([
          store.revokeSigningKey(current.kid, keyRecord(`revoke-${round}`, NOW)),
          other.rotateSigningKey(keyRecord(`rotate-${round}`, NOW), NOW + 60, NOW),
          other.revokeSigningKey(current.kid, keyRecord(`again-${round}`, NOW)),
          store.ensureSigningKey(keyRecord(`ensure-${round}`, NOW), NOW),
        ]);
        const keys = await other.listSigningKeys(NOW);
        const currents = keys.filter((k) => k.retiresAt === null);
        assert.equal(currents.length, 1, `round ${round}: ${JSON.stringify(keys)}`);
        assert.ok(await store.currentPrivateJwk(currents[0].kid), "the current key can sign");
        assert.ok(!keys.some((k) => k.kid === current.kid), "the revoked key is gone");
        const revocations = outcomes.slice(0, 3).filter((outcome) => outcome !== undefined);
        assert.ok(revocations.includes("current") || revocations.includes("retiring"));
        assert.equal(outcomes[2] === "unknown" || outcomes[0] === "unknown", true, "revoked once");
        for (const key of keys.filter((k) => k.retiresAt !== null)) {
          assert.equal(await other.currentPrivateJwk(key.kid), undefined, "no private half");
        }
      }
    } finally {
      await other.close();
    }
  });

  test("opening an already migrated database again changes nothing", async (store) => {
    await store.addUser("alice", "$hash-a");
    await store.close();
    for (let i = 0; i < 2; i++) {
      const again: Store = await reopen(store);
      try {
        assert.deepEqual(await again.listUsers(), ["alice"]);
      } finally {
        await again.close();
      }
    }
  });
}
