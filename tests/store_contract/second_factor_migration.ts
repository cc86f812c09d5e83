/**
 * @module
 * The second-factor step, the last of both backends' schemas (SQLite's 12, PostgreSQL's 11),
 * written once: a database from just before it (every user with a subject already) opens with
 * an account that can set up a factor, which goes with its user and is never inherited by a
 * later account of the same name. Each backend's test file says how to make such a database.
 */
import assert from "node:assert/strict";
import { unixNow } from "../../src/clock.ts";
import type { Store } from "../../src/store/store.ts";
import { type Prerequisite, testNeeding } from "../helpers/prerequisites.ts";

/** The rows of the database before the step, as SQL both backends run: alice, with a subject. */
export const USERS_BEFORE_FACTORS =
  "INSERT INTO users (username, subject, password_hash, created_at) VALUES ('alice', 'subject-of-alice', '$hash', 1700000000)";

/** How a backend makes a database from before the second-factor step. */
export interface BeforeFactors {
  /** The schema version from before the step. */
  version: number;
  /** What the backend needs from the machine. */
  needs?: readonly Prerequisite[];
  /** Makes a database at that version holding `rows`. */
  create(rows: string): Promise<AsyncDisposable & { open(): Promise<Store> }>;
}

/** Registers the case "`name`.open of schema N adds second factors, …" for a backend. */
export function secondFactorStepTest(name: string, backend: BeforeFactors): void {
  testNeeding(backend.needs ?? [], {
    name:
      `${name}.open of schema ${backend.version} adds second factors that go with their user, not to a later account of the same name`,
    async fn() {
      await using database = await backend.create(USERS_BEFORE_FACTORS);
      const store = await database.open();
      try {
        assert.equal(await store.pendingMigrations(), 0);
        const now = unixNow();
        assert.equal((await store.getUser("alice"))?.subject, "subject-of-alice");
        assert.equal(await store.startTotpEnrolment("alice", "SECRET-A", now), true);
        assert.equal(
          await store.acceptTotpStep("alice", "SECRET-A", 100, { confirming: true, now }),
          true,
        );
        await store.replaceRecoveryCodes("alice", ["hash-1", "hash-2"], now);
        assert.equal((await store.getTotpFactor("alice"))?.confirmedAt, now);
        assert.equal(await store.startTotpEnrolment("nobody", "SECRET-N", now), false);

        await store.removeUser("alice", now);
        await store.addUser("alice", "$hash2");
        const later = await store.getUser("alice");
        assert.notEqual(later?.subject, "subject-of-alice");
        assert.equal(await store.getTotpFactor("alice"), undefined);
        assert.equal(await store.countRecoveryCodes("alice"), 0);
        assert.equal(await store.useRecoveryCode("alice", "hash-1", now), false);
      } finally {
        await store.close();
      }
    },
  });
}
