import assert from "node:assert/strict";
import { unixNow } from "../src/clock.ts";
import { StoreFailure } from "../src/store/errors.ts";
import {
  type AuthorizationCodeRecord,
  type BrowserSessionRecord,
  type ClientRecord,
  type NewRefreshToken,
  type NewSigningKey,
  type PendingRequestRecord,
  publicHalf,
  type RefreshFamilyRecord,
  type RefreshTokenRecord,
  type Store,
  type ThrottleRecord,
} from "../src/store/store.ts";
import { type Prerequisite, testNeeding } from "./helpers/prerequisites.ts";

/** Optional capabilities of the store under test. */
export interface StoreContractOptions {
  /**
   * Opens another connection to the database behind `store` (for SQLite: the same file). Enables
   * the persistence, two-connection and re-migration tests.
   */
  reopen?: (store: Store) => Promise<Store>;
  /** Runs after each test, once the store is closed (for example to drop its database). */
  cleanup?: (store: Store) => Promise<void>;
  /** What the store's server needs from the machine; the tests are skipped where it is missing. */
  needs?: readonly Prerequisite[];
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

/** The password hash the contract's users are added with. */
const HASH = "$hash-a";

/** A live family of alice's, started at NOW, ending a day later, access tokens until NOW + 930. */
function familyRecord(id: string, fields: Partial<RefreshFamilyRecord> = {}): RefreshFamilyRecord {
  return {
    id,
    username: "alice",
    clientId: "auth-api",
    createdAt: NOW,
    expiresAt: NOW + 86400,
    accessExpiresAt: NOW + 930,
    revokedAt: null,
    ...fields,
  };
}

/** The state of one throttle key, read through the store's one throttle operation. */
function readThrottle(store: Store, key: string): Promise<ThrottleRecord | undefined> {
  return store.updateThrottles([key], (current) => ({ writes: {}, result: current.get(key) }));
}

/** Stores `record` as the state of `key`. */
async function writeThrottle(store: Store, key: string, record: ThrottleRecord): Promise<void> {
  await store.updateThrottles([key], () => ({ writes: { [key]: record }, result: 0 }));
}

/** Adds one failure to each of `keys` in one call. */
async function increment(store: Store, keys: string[]): Promise<void> {
  await store.updateThrottles(keys, (current) => ({
    writes: Object.fromEntries(keys.map((key) => [key, {
      failures: (current.get(key)?.failures ?? 0) + 1,
      windowStartAt: 1,
      blockedUntil: 0,
    }])),
    result: undefined,
  }));
}

/**
 * Counts one attempt on each of `keys` unless one of them already has `budget` failures, as
 * the login throttle does; true when it was counted.
 */
function reserve(store: Store, keys: string[], budget: number): Promise<boolean> {
  return store.updateThrottles(keys, (current) => {
    if (keys.some((key) => (current.get(key)?.failures ?? 0) >= budget)) {
      return { writes: {}, result: false };
    }
    return {
      writes: Object.fromEntries(keys.map((key) => [key, {
        failures: (current.get(key)?.failures ?? 0) + 1,
        windowStartAt: 1,
        blockedUntil: 0,
      }])),
      result: true,
    };
  });
}

/** A refresh token record valid for an hour from NOW, unused. */
function tokenRecord(
  tokenHash: string,
  familyId: string,
  fields: Partial<RefreshTokenRecord> = {},
): RefreshTokenRecord {
  return {
    tokenHash,
    familyId,
    scope: "hello",
    createdAt: NOW,
    expiresAt: NOW + 3600,
    usedAt: null,
    ...fields,
  };
}

/** A confidential client registered at NOW. */
function clientRecord(clientId: string, fields: Partial<ClientRecord> = {}): ClientRecord {
  return {
    clientId,
    name: null,
    secretHash: "f".repeat(64),
    redirectUris: ["https://app.example/callback"],
    postLogoutRedirectUris: [],
    firstParty: false,
    scope: "openid profile",
    grantTypes: ["authorization_code", "refresh_token"],
    createdAt: NOW,
    ...fields,
  };
}

/** A pending step valid for ten minutes from NOW. */
function pendingRecord(id: string, fields: Partial<PendingRequestRecord> = {}) {
  return {
    id,
    bindingHash: "b".repeat(64),
    csrfHash: "c".repeat(64),
    action: '{"kind":"sign_in"}',
    createdAt: NOW,
    expiresAt: NOW + 600,
    ...fields,
  };
}

/** An unused authorization code valid for a minute from NOW. */
function codeRecord(
  codeHash: string,
  fields: Partial<AuthorizationCodeRecord> = {},
): AuthorizationCodeRecord {
  return {
    codeHash,
    clientId: "app",
    username: "alice",
    redirectUri: "https://app.example/callback",
    scope: "openid",
    codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    nonce: "n-0S6_WzA2Mj",
    authTime: NOW - 5,
    browserSid: "sid-1",
    createdAt: NOW,
    expiresAt: NOW + 60,
    usedAt: null,
    familyId: null,
    replayedAt: null,
    ...fields,
  };
}

/** A browser session signed in at NOW, idle for at most 30 minutes, for at most 10 hours. */
function browserSession(
  idHash: string,
  sid: string,
  fields: Partial<BrowserSessionRecord> = {},
): BrowserSessionRecord {
  return {
    idHash,
    sid,
    username: "alice",
    authTime: NOW,
    createdAt: NOW,
    idleExpiresAt: NOW + 1800,
    expiresAt: NOW + 36_000,
    ...fields,
  };
}

/**
 * Starts a family with its first token `tokenHash` for the family's user, adding that user (with
 * {@linkcode HASH}) when needed.
 */
async function startFamily(
  store: Store,
  family: RefreshFamilyRecord,
  tokenHash: string,
  token: Partial<RefreshTokenRecord> = {},
): Promise<RefreshTokenRecord> {
  if (!await store.getUser(family.username)) await store.addUser(family.username, HASH);
  const first = tokenRecord(tokenHash, family.id, token);
  assert.equal(await store.startRefreshFamily(family, first, HASH), true, "family started");
  return first;
}

/** A rotation that asks for `tokenHash`, valid two hours from NOW, access tokens until NOW + 2000. */
function nextToken(
  tokenHash: string,
  fields: Partial<NewRefreshToken> = {},
): () => NewRefreshToken {
  return () => ({
    tokenHash,
    scope: "hello",
    expiresAt: NOW + 7200,
    accessExpiresAt: NOW + 2000,
    ...fields,
  });
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
  const { reopen, cleanup, needs = [] } = options;

  /** Runs `fn` on a fresh store and closes it afterwards. */
  function test(title: string, fn: (store: Store) => Promise<void>): void {
    testNeeding(needs, {
      name: `${name} ${title}`,
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

  test("updateThrottles gives decide no state for keys never written", async (store) => {
    const seen = await store.updateThrottles(["account:alice", "address:192.0.2.1"], (current) => ({
      writes: {},
      result: [...current.entries()],
    }));
    assert.deepEqual(seen, []);
    assert.equal(await readThrottle(store, "account:alice"), undefined);
  });

  test("updateThrottles stores the writes, returns the result, and later calls see them", async (store) => {
    const first = { failures: 1, windowStartAt: 1_000, blockedUntil: 0 };
    const second = { failures: 7, windowStartAt: 2_000, blockedUntil: 3_000 };
    const result = await store.updateThrottles(["account:alice", "address:a"], () => ({
      writes: { "account:alice": first, "address:a": second },
      result: "stored",
    }));
    assert.equal(result, "stored");
    const seen = await store.updateThrottles(
      ["address:a", "account:alice", "account:bob"],
      (c) => ({
        writes: {},
        result: Object.fromEntries(c),
      }),
    );
    assert.deepEqual(seen, { "account:alice": first, "address:a": second });
    await store.updateThrottles(["account:alice"], (current) => ({
      writes: { "account:alice": { ...current.get("account:alice")!, failures: 2 } },
      result: 0,
    }));
    assert.deepEqual(await readThrottle(store, "account:alice"), { ...first, failures: 2 });
    assert.deepEqual(await readThrottle(store, "address:a"), second, "unwritten keys keep state");
  });

  test("updateThrottles forgets a key written as null, also one that has no state", async (store) => {
    await writeThrottle(store, "account:alice", { failures: 4, windowStartAt: 1, blockedUntil: 0 });
    await writeThrottle(store, "account:bob", { failures: 2, windowStartAt: 1, blockedUntil: 0 });
    await store.updateThrottles(["account:alice", "account:nobody"], () => ({
      writes: { "account:alice": null, "account:nobody": null },
      result: 0,
    }));
    assert.equal(await readThrottle(store, "account:alice"), undefined);
    assert.equal(await readThrottle(store, "account:nobody"), undefined);
    assert.equal((await readThrottle(store, "account:bob"))?.failures, 2);
  });

  test("updateThrottles keeps large timestamps exactly", async (store) => {
    const state = {
      failures: 3,
      windowStartAt: 4_102_444_800_123,
      blockedUntil: 4_102_444_900_456,
    };
    await writeThrottle(store, "address:203.0.113.1", state);
    assert.deepEqual(await readThrottle(store, "address:203.0.113.1"), state);
  });

  test("updateThrottles stores nothing when decide throws and stays usable", async (store) => {
    await writeThrottle(store, "account:bob", { failures: 1, windowStartAt: 1, blockedUntil: 0 });
    const boom = new Error("Boom");
    // An implementation may throw or reject; callers always await.
    await assert.rejects(
      async () =>
        await store.updateThrottles(["account:alice", "account:bob"], () => {
          throw boom;
        }),
      (error) => error === boom,
    );
    assert.equal(await readThrottle(store, "account:alice"), undefined);
    assert.equal((await readThrottle(store, "account:bob"))?.failures, 1);
    await writeThrottle(store, "account:alice", { failures: 1, windowStartAt: 1, blockedUntil: 0 });
    assert.equal((await readThrottle(store, "account:alice"))?.failures, 1);
  });

  test("updateThrottles refuses a write to a key it did not read and stores nothing", async (store) => {
    const record = { failures: 1, windowStartAt: 1, blockedUntil: 0 };
    await assert.rejects(
      async () =>
        await store.updateThrottles(["account:alice"], () => ({
          writes: { "account:alice": record, "account:bob": record },
          result: 0,
        })),
      /Throttle key "account:bob" was not read first/,
    );
    assert.equal(await readThrottle(store, "account:alice"), undefined);
    assert.equal(await readThrottle(store, "account:bob"), undefined);
  });

  test("updateThrottles keeps keys apart", async (store) => {
    await writeThrottle(store, "account:alice", { failures: 1, windowStartAt: 1, blockedUntil: 0 });
    await writeThrottle(store, "address:alice", { failures: 7, windowStartAt: 2, blockedUntil: 3 });
    assert.equal((await readThrottle(store, "account:alice"))?.failures, 1);
    assert.equal((await readThrottle(store, "address:alice"))?.failures, 7);
    assert.equal(await readThrottle(store, "account:bob"), undefined);
  });

  test("updateThrottles counts every one of many concurrent updates of overlapping keys", async (store) => {
    // Each call increments a shared key and one of three others, in varying order.
    await Promise.all(Array.from({ length: 60 }, (_, i) => {
      const keys = i % 2 ? ["shared", `k${i % 3}`] : [`k${i % 3}`, "shared"];
      return increment(store, keys);
    }));
    assert.equal((await readThrottle(store, "shared"))?.failures, 60);
    for (let k = 0; k < 3; k++) assert.equal((await readThrottle(store, `k${k}`))?.failures, 20);
  });

  test("updateThrottles lets exactly the budget through when many reserve at once", async (store) => {
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, () => reserve(store, ["account:alice"], 5)),
    );
    assert.equal(outcomes.filter(Boolean).length, 5);
    assert.equal((await readThrottle(store, "account:alice"))?.failures, 5);
  });

  // --- secrets ---

  test("ensureSecret keeps the first candidate and returns it to every later caller", async (store) => {
    assert.equal(await store.ensureSecret("device", "first"), "first");
    assert.equal(await store.ensureSecret("device", "second"), "first");
    assert.equal(await store.ensureSecret("other", "third"), "third", "names are apart");
    const raced = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.ensureSecret("raced", `candidate-${i}`)),
    );
    assert.equal(new Set(raced).size, 1, JSON.stringify(raced));
  });

  // --- refresh-token families ---

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

  // --- registered clients ---

  test("getClient returns undefined for an unknown client", async (store) => {
    assert.equal(await store.getClient("app"), undefined);
    assert.deepEqual(await store.listClients(), []);
  });

  test("addClient then getClient returns every field", async (store) => {
    const confidential = clientRecord("client'); DROP TABLE clients;--", {
      name: "Zoë's app 🦕",
      redirectUris: ["https://app.example/cb?x=1&y=2", "com.example.app:/callback"],
      postLogoutRedirectUris: ["https://app.example/bye"],
      firstParty: true,
      scope: "openid profile hello",
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      createdAt: 4_102_444_800,
    });
    const publicClient = clientRecord("spa", { secretHash: null, grantTypes: [] });
    await store.addClient(confidential);
    await store.addClient(publicClient);
    assert.deepEqual(await store.getClient(confidential.clientId), confidential);
    assert.deepEqual(await store.getClient("spa"), publicClient);
    assert.equal(await store.getClient("SPA"), undefined, "exact id only");
  });

  test("addClient rejects a taken id as duplicate_client and keeps the old record", async (store) => {
    await store.addClient(clientRecord("app"));
    await assert.rejects(store.addClient(clientRecord("app", { firstParty: true })), (error) => {
      assert.ok(error instanceof StoreFailure);
      assert.equal(error.code, "duplicate_client");
      assert.equal(error.message, 'Client "app" already exists');
      return true;
    });
    assert.equal((await store.getClient("app"))?.firstParty, false);
  });

  test("listClients lists clients in order of their ids", async (store) => {
    for (const id of ["carol", "Alice", "bob", "alice"]) await store.addClient(clientRecord(id));
    assert.deepEqual((await store.listClients()).map((client) => client.clientId), [
      "Alice",
      "alice",
      "bob",
      "carol",
    ]);
  });

  test("removeClient forgets the client and its consents only, false when there is none", async (store) => {
    await store.addClient(clientRecord("app"));
    await store.addClient(clientRecord("other"));
    await store.saveConsent("alice", "app", "openid", NOW);
    await store.saveConsent("alice", "other", "openid", NOW);
    assert.equal(await store.removeClient("app"), true);
    assert.equal(await store.getClient("app"), undefined);
    assert.equal(await store.getConsent("alice", "app"), undefined);
    assert.equal(await store.getConsent("alice", "other"), "openid");
    assert.ok(await store.getClient("other"));
    assert.equal(await store.removeClient("app"), false);
  });

  test("setClientSecretHash replaces the hash, false for no such client", async (store) => {
    await store.addClient(clientRecord("app"));
    await store.addClient(clientRecord("other"));
    assert.equal(await store.setClientSecretHash("app", "1".repeat(64)), true);
    assert.equal((await store.getClient("app"))?.secretHash, "1".repeat(64));
    assert.equal((await store.getClient("other"))?.secretHash, "f".repeat(64));
    assert.equal(await store.setClientSecretHash("nobody", "1".repeat(64)), false);
  });

  // --- ID-token keys ---

  test("ensureIdTokenKey inserts once, keeps the first key, and is apart from signing keys", async (store) => {
    assert.deepEqual(await store.listIdTokenKeys(NOW), []);
    const first = { ...keyRecord("rsa-1", NOW), alg: "RS256" };
    assert.deepEqual(await store.ensureIdTokenKey(first, NOW), first);
    const second = { ...keyRecord("rsa-2", NOW + 1), alg: "RS256" };
    assert.deepEqual(await store.ensureIdTokenKey(second, NOW + 1), first);
    // Listed by their public half, like signing keys; the private half comes with the current one.
    assert.deepEqual(await store.listIdTokenKeys(NOW + 1), [publicHalf(first)]);
    assert.deepEqual(await store.listSigningKeys(NOW + 1), []);
    const signing = keyRecord("ec-1", NOW);
    await store.ensureSigningKey(signing, NOW);
    assert.deepEqual(await store.listIdTokenKeys(NOW + 1), [publicHalf(first)]);
    assert.deepEqual(await store.listSigningKeys(NOW + 1), [publicHalf(signing)]);
  });

  test("ensureIdTokenKey from concurrent callers keeps exactly one key", async (store) => {
    const keys = Array.from({ length: 5 }, (_, i) => ({
      ...keyRecord(`rsa-${i}`, NOW),
      alg: "RS256",
    }));
    const results = await Promise.all(keys.map((key) => store.ensureIdTokenKey(key, NOW)));
    assert.equal(new Set(results.map((key) => key.kid)).size, 1);
    assert.deepEqual((await store.listIdTokenKeys(NOW)).map((key) => key.kid), [results[0].kid]);
  });

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

  test("close can be called twice", async (store) => {
    await store.close();
    await store.close();
  });

  // --- across connections ---

  if (!reopen) return;

  test("keeps users, keys, throttle state and secrets across close and reopen", async (store) => {
    await store.addUser("alice", "$hash-a");
    const key = keyRecord("k1", NOW);
    await store.ensureSigningKey(key, NOW);
    const state = { failures: 2, windowStartAt: 5, blockedUntil: 6 };
    await writeThrottle(store, "account:alice", state);
    await store.ensureSecret("device", "kept");
    const again: Store = await reopen(store);
    await store.close();
    try {
      assert.equal((await again.getUser("alice"))?.passwordHash, "$hash-a");
      assert.deepEqual(await again.listUsers(), ["alice"]);
      assert.deepEqual(await again.listSigningKeys(NOW), [publicHalf(key)]);
      assert.deepEqual(await readThrottle(again, "account:alice"), state);
      assert.equal(await again.ensureSecret("device", "other"), "kept");
    } finally {
      await again.close();
    }
  });

  test("keeps refresh tokens, families and revocations across close and reopen", async (store) => {
    await startFamily(store, familyRecord("f1"), "spent");
    await store.rotateRefreshToken("spent", NOW + 1, nextToken("live"));
    await startFamily(store, familyRecord("f2"), "revoked");
    await store.revokeRefreshFamily("f2", NOW + 2);
    await store.addRevocation("jti", "token-1", NOW + 100);
    const revocations = await store.listRevocations(0, NOW);
    const hashes = ["live", "spent", "revoked"];
    const states = await Promise.all(hashes.map((hash) => store.getRefreshToken(hash)));
    const again: Store = await reopen(store);
    await store.close();
    try {
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
    } finally {
      await again.close();
    }
  });

  test("two connections share refresh tokens and revocations", async (store) => {
    const other = await reopen(store);
    try {
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
    } finally {
      await other.close();
    }
  });

  test("two connections racing rotation against revocation and account changes: no revoked family rotates again", async (store) => {
    const other = await reopen(store);
    try {
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
    } finally {
      await other.close();
    }
  });

  test("two connections racing a browser session's link and sign-out against an account change: each finishes (no deadlock), the session ends and its family is revoked", async (store) => {
    const other = await reopen(store);
    try {
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
    } finally {
      await other.close();
    }
  });

  test("two connections see each other's writes", async (store) => {
    const other = await reopen(store);
    try {
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
    } finally {
      await other.close();
    }
  });

  test("two connections share clients, codes, pending steps and browser sessions", async (store) => {
    const other = await reopen(store);
    try {
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
