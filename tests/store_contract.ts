import assert from "node:assert/strict";
import {
  DuplicateUserError,
  type SigningKeyRecord,
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
): SigningKeyRecord {
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

/**
 * Registers the behaviour every `Store` must have as `Deno.test` cases named `"<name> …"`.
 * `open` must return a new, empty store on each call.
 *
 * @example
 * ```ts
 * storeContract("SqliteStore", () => Promise.resolve(SqliteStore.open(":memory:")));
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
    const before = Date.now();
    await store.addUser("alice", "$hash-a");
    const user = await store.getUser("alice");
    assert.ok(user);
    assert.equal(user.username, "alice");
    assert.equal(user.passwordHash, "$hash-a");
    assert.equal(typeof user.createdAt, "number");
    assert.ok(user.createdAt >= before && user.createdAt <= Date.now(), "createdAt is Unix ms");
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

  test("addUser throws DuplicateUserError for a taken name and keeps the old hash", async (store) => {
    await store.addUser("alice", "$hash-a");
    await assert.rejects(store.addUser("alice", "$hash-b"), (error) => {
      assert.ok(error instanceof DuplicateUserError);
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

  // --- signing keys ---

  test("listSigningKeys is empty for a new store", async (store) => {
    assert.deepEqual(await store.listSigningKeys(NOW), []);
  });

  test("ensureSigningKey inserts the key when there is none and returns it", async (store) => {
    const key = keyRecord("k1", NOW);
    assert.deepEqual(await store.ensureSigningKey(key, NOW), key);
    assert.deepEqual(await store.listSigningKeys(NOW), [key]);
  });

  test("ensureSigningKey keeps an unretired key and returns it instead", async (store) => {
    const first = keyRecord("k1", NOW);
    await store.ensureSigningKey(first, NOW);
    assert.deepEqual(await store.ensureSigningKey(keyRecord("k2", NOW + 5), NOW + 5), first);
    assert.deepEqual(await store.listSigningKeys(NOW + 5), [first]);
  });

  test("ensureSigningKey inserts when every key has retired", async (store) => {
    await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
    await store.rotateSigningKey(keyRecord("k2", NOW + 10), NOW + 20, NOW + 10);
    // k2 is current (retiresAt null), so nothing is inserted yet.
    assert.equal((await store.ensureSigningKey(keyRecord("k3", NOW + 30), NOW + 30)).kid, "k2");
    // Retire k2 by rotating to a key that has itself already retired.
    await store.rotateSigningKey(keyRecord("k4", NOW + 40, NOW + 41), NOW + 41, NOW + 40);
    const fresh = keyRecord("k5", NOW + 50);
    assert.deepEqual(await store.ensureSigningKey(fresh, NOW + 50), fresh);
    assert.deepEqual((await store.listSigningKeys(NOW + 50)).map((k) => k.kid), ["k5"]);
  });

  test("rotateSigningKey retires the current key at the given time", async (store) => {
    const first = keyRecord("k1", NOW);
    await store.ensureSigningKey(first, NOW);
    const second = keyRecord("k2", NOW + 100);
    await store.rotateSigningKey(second, NOW + 160, NOW + 100);
    assert.deepEqual(await store.listSigningKeys(NOW + 100), [
      second,
      { ...first, retiresAt: NOW + 160 },
    ]);
    assert.deepEqual(await store.listSigningKeys(NOW + 159), [
      second,
      { ...first, retiresAt: NOW + 160 },
    ]);
    assert.deepEqual(await store.listSigningKeys(NOW + 160), [second], "retired at retiresAt");
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
    const key: SigningKeyRecord = {
      kid: "kid-1",
      alg: "ES256",
      privateJwk: '{"kty":"EC","crv":"P-256","d":"secret","x":"x","y":"y"}',
      publicJwk: '{"kty":"EC","crv":"P-256","x":"x","y":"y"}',
      createdAt: NOW,
      retiresAt: null,
    };
    await store.ensureSigningKey(key, NOW);
    assert.deepEqual(await store.listSigningKeys(NOW), [key]);
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
        windowStart: current?.windowStart ?? 1_000,
        blockedUntil: (current?.failures ?? 0) >= 1 ? 9_000 : 0,
      };
    };
    const first = await store.recordFailure("account:alice", update);
    assert.deepEqual(first, { failures: 1, windowStart: 1_000, blockedUntil: 0 });
    assert.deepEqual(await store.getThrottle("account:alice"), first);
    const second = await store.recordFailure("account:alice", update);
    assert.deepEqual(second, { failures: 2, windowStart: 1_000, blockedUntil: 9_000 });
    assert.deepEqual(await store.getThrottle("account:alice"), second);
    assert.deepEqual(seen, [undefined, first]);
  });

  test("recordFailure keeps large millisecond timestamps exactly", async (store) => {
    const state = { failures: 3, windowStart: 4_102_444_800_123, blockedUntil: 4_102_444_900_456 };
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
      () => ({ failures: 1, windowStart: 1, blockedUntil: 0 }),
    );
    assert.equal((await store.getThrottle("account:alice"))?.failures, 1);
  });

  test("recordFailure keeps keys apart", async (store) => {
    await store.recordFailure(
      "account:alice",
      () => ({ failures: 1, windowStart: 1, blockedUntil: 0 }),
    );
    await store.recordFailure(
      "address:alice",
      () => ({ failures: 7, windowStart: 2, blockedUntil: 3 }),
    );
    assert.equal((await store.getThrottle("account:alice"))?.failures, 1);
    assert.equal((await store.getThrottle("address:alice"))?.failures, 7);
    assert.equal(await store.getThrottle("account:bob"), undefined);
  });

  test("recordFailure counts every one of many concurrent failures", async (store) => {
    const increment = (current: ThrottleRecord | undefined): ThrottleRecord => ({
      failures: (current?.failures ?? 0) + 1,
      windowStart: 1,
      blockedUntil: 0,
    });
    await Promise.all(Array.from({ length: 25 }, () => store.recordFailure("k", increment)));
    assert.equal((await store.getThrottle("k"))?.failures, 25);
  });

  test("clearThrottle forgets one key and ignores unknown keys", async (store) => {
    await store.recordFailure(
      "account:alice",
      () => ({ failures: 4, windowStart: 1, blockedUntil: 0 }),
    );
    await store.recordFailure(
      "account:bob",
      () => ({ failures: 2, windowStart: 1, blockedUntil: 0 }),
    );
    await store.clearThrottle("account:alice");
    assert.equal(await store.getThrottle("account:alice"), undefined);
    assert.equal((await store.getThrottle("account:bob"))?.failures, 2);
    await store.clearThrottle("account:nobody");
    await store.clearThrottle("account:alice");
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
    const state = { failures: 2, windowStart: 5, blockedUntil: 6 };
    await store.recordFailure("account:alice", () => state);
    const again: Store = await reopen(store);
    await store.close();
    try {
      assert.equal((await again.getUser("alice"))?.passwordHash, "$hash-a");
      assert.deepEqual(await again.listUsers(), ["alice"]);
      assert.deepEqual(await again.listSigningKeys(NOW), [key]);
      assert.deepEqual(await again.getThrottle("account:alice"), state);
    } finally {
      await again.close();
    }
  });

  test("two connections see each other's writes", async (store) => {
    const other = await reopen(store);
    try {
      await store.addUser("alice", "$hash-a");
      assert.equal((await other.getUser("alice"))?.passwordHash, "$hash-a");
      assert.equal(await other.setPasswordHash("alice", "$hash-a2"), true);
      assert.equal((await store.getUser("alice"))?.passwordHash, "$hash-a2");
      await assert.rejects(other.addUser("alice", "$hash-x"), DuplicateUserError);

      await store.ensureSigningKey(keyRecord("k1", NOW), NOW);
      assert.equal((await other.ensureSigningKey(keyRecord("k2", NOW), NOW)).kid, "k1");
      await other.rotateSigningKey(keyRecord("k3", NOW + 1), NOW + 60, NOW + 1);
      assert.deepEqual((await store.listSigningKeys(NOW + 1)).map((k) => k.kid), ["k3", "k1"]);

      const increment = (current: ThrottleRecord | undefined): ThrottleRecord => ({
        failures: (current?.failures ?? 0) + 1,
        windowStart: 1,
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
