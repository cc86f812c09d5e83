/**
 * @module
 * The schema upgrades both backends make the same way, written once: a database from before
 * refresh families had a table of their own (SQLite's schema 3, PostgreSQL's schema 2) opens with
 * its refresh tokens turned into families; one from before the sign-in bounds (SQLite's schema 7,
 * PostgreSQL's schema 6) keeps its pending sign-ins and codes; and one from before accounts had
 * subjects of their own (SQLite's schema 10, PostgreSQL's schema 9) opens with a subject for every
 * user, carried by what belongs to the account. Each backend's test file says how to make such a
 * database; this file fills it with the same rows and checks the same outcome.
 */
import assert from "node:assert/strict";
import { unixNow, type UnixSeconds } from "../../src/clock.ts";
import type { Store } from "../../src/store/store.ts";
import { type Prerequisite, testNeeding } from "../helpers/prerequisites.ts";

/**
 * A refresh token as stored before families, with the scope "hello": its hash, family, user,
 * client, and when it was made, expires, was used and was revoked.
 */
export type TokenBeforeFamilies = readonly [
  hash: string,
  family: string,
  username: string,
  clientId: string,
  createdAt: UnixSeconds,
  expiresAt: UnixSeconds,
  usedAt: UnixSeconds | null,
  revokedAt: UnixSeconds | null,
];

/** The users of the database before families, as SQL both backends run: alice and bob. */
export const USERS_BEFORE_FAMILIES =
  "INSERT INTO users VALUES ('alice', '$hash', 1700000000), ('bob', '$hash', 1)";

/** A backend's database from before families, holding the users and the tokens given. */
export interface DatabaseBeforeFamilies extends AsyncDisposable {
  /** Opens the store on it, which migrates it. */
  open(): Promise<Store>;
  /** The columns of its `refresh_tokens` table, in order. */
  refreshTokenColumns(): Promise<string[]>;
}

/** How a backend makes a database from before families. */
export interface BeforeFamilies {
  /** The schema version from before families. */
  version: number;
  /** What the backend needs from the machine. */
  needs?: readonly Prerequisite[];
  /** Makes a database at that version with {@linkcode USERS_BEFORE_FAMILIES} and `tokens`. */
  create(tokens: readonly TokenBeforeFamilies[]): Promise<DatabaseBeforeFamilies>;
}

/**
 * Registers the case "`name`.open turns the refresh tokens of schema N into families, …" for a
 * backend.
 */
export function familiesFromTokensTest(name: string, backend: BeforeFamilies): void {
  testNeeding(backend.needs ?? [], {
    name:
      `${name}.open turns the refresh tokens of schema ${backend.version} into families, revoking those a revocation missed and those of removed users`,
    async fn() {
      const now = unixNow();
      await using database = await backend.create([
        // A live session rotated twice: its newest token's expiry becomes the session's end.
        ["live-1", "live", "alice", "app", now - 200, now + 1000, now - 100, null],
        ["live-2", "live", "alice", "app", now - 100, now + 1100, null, null],
        // A session revoked by logout while a rotation minted one more token (the old race).
        ["raced-1", "raced", "bob", "auth-api", now - 50, now + 500, now - 10, now - 10],
        ["raced-2", "raced", "bob", "auth-api", now - 10, now + 540, null, null],
        // A session of a user removed before sessions ended with their user.
        ["gone-1", "gone", "carol", "auth-api", now - 50, now + 700, null, null],
        // A session revoked cleanly (its revocation was recorded then).
        ["out-1", "out", "alice", "auth-api", now - 50, now + 800, null, now - 5],
      ]);
      const migrated = await database.open();
      try {
        await assertFamilies(migrated, now);
      } finally {
        await migrated.close();
      }
      assert.deepEqual(await database.refreshTokenColumns(), [
        "token_hash",
        "family_id",
        "scope",
        "created_at",
        "expires_at",
        "used_at",
      ]);
    },
  });
}

async function assertFamilies(migrated: Store, now: UnixSeconds): Promise<void> {
  assert.deepEqual(await migrated.getRefreshToken("live-2"), {
    token: {
      tokenHash: "live-2",
      familyId: "live",
      scope: "hello",
      createdAt: now - 100,
      expiresAt: now + 1100,
      usedAt: null,
    },
    family: {
      id: "live",
      username: "alice",
      subject: (await migrated.getUser("alice"))!.subject,
      clientId: "app",
      createdAt: now - 200,
      expiresAt: now + 1100,
      accessExpiresAt: now + 1100,
      revokedAt: null,
      dpopJkt: null,
      clientConfidential: false,
    },
  });
  assert.equal((await migrated.getRefreshToken("live-1"))?.token.usedAt, now - 100);
  assert.equal((await migrated.getRefreshToken("raced-2"))?.family.revokedAt, now - 10);
  const gone = (await migrated.getRefreshToken("gone-1"))?.family.revokedAt;
  assert.ok(gone !== null && gone !== undefined && gone >= now, `gone revoked at ${gone}`);
  assert.equal((await migrated.getRefreshToken("out-1"))?.family.revokedAt, now - 5);
  // The sessions whose access tokens no revocation covered get one; the clean one had its own.
  const revoked = (await migrated.listRevocations(0, now))
    .map((r) => [r.kind, r.id, r.expiresAt]).sort();
  assert.deepEqual(revoked, [["sid", "gone", now + 700], ["sid", "raced", now + 540]]);
  const rotated = await migrated.rotateRefreshToken("raced-2", now, () => {
    throw new Error("A revoked family must not rotate");
  });
  assert.equal(rotated.outcome, "revoked");
  const next = await migrated.rotateRefreshToken("live-2", now, () => ({
    tokenHash: "live-3",
    scope: "hello",
    expiresAt: now + 5000,
    accessExpiresAt: now + 900,
  }));
  assert.ok(next.outcome === "rotated");
  assert.equal(next.token.expiresAt, now + 1100, "the session's end is now absolute");
}

/**
 * The pending sign-in and the three codes of one browser session (of alice, a user) stored before
 * the bounds.
 */
export const SIGN_IN_BEFORE_BOUNDS = `
  INSERT INTO users (username, password_hash, created_at) VALUES ('alice', '$hash-a', 1);
  INSERT INTO pending_requests (id, binding_hash, csrf_hash, action, created_at, expires_at)
    VALUES ('old-page', 'b', 'c', '{"kind":"sign_in"}', 1900000000, 1900000600);
  INSERT INTO authorization_codes (code_hash, client_id, username, redirect_uri, scope,
    code_challenge, nonce, auth_time, browser_sid, created_at, expires_at, used_at, family_id,
    replayed_at)
  VALUES ('old-1', 'app', 'alice', 'https://app.example/cb', 'openid', 'x', NULL, 1900000000,
      'sid-old', 1900000000, 1900000060, NULL, NULL, NULL),
    ('old-2', 'app', 'alice', 'https://app.example/cb', 'openid', 'x', NULL, 1900000000,
      'sid-old', 1900000000, 1900000060, NULL, NULL, NULL),
    ('old-3', 'app', 'alice', 'https://app.example/cb', 'openid', 'x', NULL, 1900000000,
      'sid-old', 1900000000, 1900000060, NULL, NULL, NULL);`;

/** How a backend makes a database from before the sign-in bounds. */
export interface BeforeSignInBounds {
  /** The schema version from before the bounds. */
  version: number;
  /** What the backend needs from the machine. */
  needs?: readonly Prerequisite[];
  /** Makes a database at that version holding {@linkcode SIGN_IN_BEFORE_BOUNDS}. */
  create(): Promise<{ open(): Promise<Store> } & AsyncDisposable>;
}

/**
 * Registers the case "`name`.open of schema N keeps pending sign-ins and codes, …" for a
 * backend: pending steps stored before addresses were kept count against no address, and codes
 * stored before their order was kept are trimmed oldest first from then on.
 */
export function signInBoundsTest(name: string, backend: BeforeSignInBounds): void {
  testNeeding(backend.needs ?? [], {
    name:
      `${name}.open of schema ${backend.version} keeps pending sign-ins (counted against no address) and codes (trimmed before any newer one)`,
    async fn() {
      await using database = await backend.create();
      const store = await database.open();
      try {
        const now = 1_900_000_001;
        const page = await store.getPendingRequest("old-page", now);
        assert.equal(page?.address, null);
        const admitted = await store.addPendingRequest({
          ...page!,
          id: "new-page",
          address: "198.51.100.7",
        }, 1);
        assert.deepEqual(admitted, { added: true });
        const code = await store.useAuthorizationCode("old-1", now);
        assert.ok(code.outcome === "redeemed");
        await store.addAuthorizationCode({ ...code.record, codeHash: "new", usedAt: null }, 2);
        const outcomes = [];
        for (const hash of ["old-1", "old-2", "old-3", "new"]) {
          outcomes.push((await store.useAuthorizationCode(hash, now)).outcome);
        }
        assert.deepEqual(outcomes, ["unknown", "unknown", "redeemed", "redeemed"]);
      } finally {
        await store.close();
      }
    },
  });
}

/**
 * The rows of a database from before subjects, as SQL both backends run: users alice and bob;
 * a family, a browser session linked to it, a code and a consent of alice's; a consent of bob's;
 * and the same of carol, a user removed before (her family revoked with her).
 */
export function rowsBeforeSubjects(now: UnixSeconds): string {
  const later = now + 3600;
  return `
    INSERT INTO users (username, password_hash, created_at) VALUES
      ('alice', '$hash-a', 1), ('bob', '$hash-b', 2);
    INSERT INTO refresh_families (id, username, client_id, created_at, expires_at,
      access_expires_at, revoked_at) VALUES
      ('alice-family', 'alice', 'app', ${now}, ${later}, ${later}, NULL),
      ('carol-family', 'carol', 'app', ${now}, ${later}, ${later}, ${now});
    INSERT INTO refresh_tokens (token_hash, family_id, scope, created_at, expires_at, used_at)
      VALUES ('alice-token', 'alice-family', 'hello', ${now}, ${later}, NULL),
        ('carol-token', 'carol-family', 'hello', ${now}, ${later}, NULL);
    INSERT INTO browser_sessions (id_hash, sid, username, auth_time, created_at,
      idle_expires_at, expires_at) VALUES
      ('alice-browser', 'alice-sid', 'alice', ${now}, ${now}, ${later}, ${later}),
      ('carol-browser', 'carol-sid', 'carol', ${now}, ${now}, ${later}, ${later});
    INSERT INTO browser_session_families (sid, family_id) VALUES
      ('alice-sid', 'alice-family'), ('carol-sid', 'carol-family');
    INSERT INTO authorization_codes (code_hash, client_id, username, redirect_uri, scope,
      code_challenge, nonce, auth_time, browser_sid, created_at, expires_at) VALUES
      ('alice-code', 'app', 'alice', 'https://app.example/cb', 'openid', 'x', NULL, ${now},
        'alice-sid', ${now}, ${later}),
      ('carol-code', 'app', 'carol', 'https://app.example/cb', 'openid', 'x', NULL, ${now},
        'carol-sid', ${now}, ${later});
    INSERT INTO consents (username, client_id, scope, granted_at) VALUES
      ('alice', 'app', 'openid', 1), ('bob', 'app', 'openid profile', 1),
      ('carol', 'app', 'openid', 1);`;
}

/** A backend's database from before subjects, holding {@linkcode rowsBeforeSubjects}. */
export interface BeforeSubjects {
  /** The schema version from before subjects. */
  version: number;
  /** What the backend needs from the machine. */
  needs?: readonly Prerequisite[];
  /** Makes a database at that version with `rows` (SQL) in it; `open` opens the store on it. */
  create(rows: string): Promise<AsyncDisposable & { open(): Promise<Store> }>;
}

/** Registers the case "`name`.open gives every user of schema N a subject …" for a backend. */
export function subjectsFromUsersTest(name: string, backend: BeforeSubjects): void {
  testNeeding(backend.needs ?? [], {
    name:
      `${name}.open gives every user of schema ${backend.version} a subject of their own, carried by their families, browser sessions, codes and consents, and keeps nothing of removed users for a new one`,
    async fn() {
      const now = unixNow();
      await using database = await backend.create(rowsBeforeSubjects(now));
      const migrated = await database.open();
      try {
        await assertSubjects(migrated, now);
      } finally {
        await migrated.close();
      }
    },
  });
}

async function assertSubjects(migrated: Store, now: UnixSeconds): Promise<void> {
  const alice = (await migrated.getUser("alice"))!;
  const bob = (await migrated.getUser("bob"))!;
  for (const user of [alice, bob]) assert.match(user.subject, /^[0-9a-f]{32}$/, user.username);
  assert.notEqual(alice.subject, bob.subject);
  assert.deepEqual(await migrated.getUserBySubject(alice.subject), alice);
  assert.equal(alice.passwordHash, "$hash-a", "the rest of the user is kept");

  assert.equal((await migrated.getRefreshToken("alice-token"))?.family.subject, alice.subject);
  const carols = (await migrated.getRefreshToken("carol-token"))?.family;
  assert.ok(carols, "a revoked family stays until it is pruned");
  assert.match(carols.subject, /^[0-9a-f]{32}$/);
  assert.equal(await migrated.getUserBySubject(carols.subject), undefined, "no account's");

  assert.equal((await migrated.getBrowserSession("alice-browser"))?.subject, alice.subject);
  assert.equal(await migrated.getBrowserSession("carol-browser"), undefined);
  assert.deepEqual(await migrated.endBrowserSession("alice-sid"), ["alice-family"]);

  const code = await migrated.useAuthorizationCode("alice-code", now);
  assert.ok(code.outcome === "redeemed");
  assert.equal(code.record.subject, alice.subject);
  assert.deepEqual(await migrated.useAuthorizationCode("carol-code", now), { outcome: "unknown" });

  assert.equal(await migrated.getConsent(alice.subject, "app"), "openid");
  assert.equal(await migrated.getConsent(bob.subject, "app"), "openid profile");
  for (const name of ["alice", "bob", "carol"]) {
    assert.equal(await migrated.getConsent(name, "app"), undefined, `none kept by name: ${name}`);
  }
  await migrated.addUser("carol", "$hash-c");
  const carol = (await migrated.getUser("carol"))!;
  assert.equal(
    await migrated.getConsent(carol.subject, "app"),
    undefined,
    "a new carol asks again",
  );
}
