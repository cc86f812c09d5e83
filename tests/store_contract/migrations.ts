/**
 * @module
 * The schema upgrade both backends make the same way, written once: a database from before
 * refresh families had a table of their own (SQLite's schema 3, PostgreSQL's schema 2) opens with
 * its refresh tokens turned into families. Each backend's test file says how to make such a
 * database; this file fills it with the same tokens and checks the same outcome.
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
      clientId: "app",
      createdAt: now - 200,
      expiresAt: now + 1100,
      accessExpiresAt: now + 1100,
      revokedAt: null,
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

/** The pending sign-in and the three codes of one browser session stored before the bounds. */
export const SIGN_IN_BEFORE_BOUNDS = `
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
