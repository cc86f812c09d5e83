/**
 * @module
 * The decisions both store backends share, as pure functions: how a refresh-token rotation is
 * planned (revoked, reused, expired, then rotate, capped at the family's expiry), how a code use is
 * decided (first use redeems, only the first replay is marked), and why a pushed request was
 * refused.
 */
import assert from "node:assert/strict";
import { planCodeUse } from "../src/store/_code_use.ts";
import { refusalOf } from "../src/store/_pushed_requests.ts";
import { planRotation } from "../src/store/_rotation.ts";
import type { AuthorizationCodeRecord, RefreshTokenState } from "../src/store/store.ts";
import { codeRecord, NOW } from "./store_contract/setup.ts";

/** A live family with one unused token, both valid for an hour; `changes` alter either. */
function state(
  changes: {
    token?: Partial<RefreshTokenState["token"]>;
    family?: Partial<RefreshTokenState["family"]>;
  } = {},
): RefreshTokenState {
  return {
    token: {
      tokenHash: "h1",
      familyId: "f1",
      scope: "hello",
      createdAt: NOW - 10,
      expiresAt: NOW + 3600,
      usedAt: null,
      ...changes.token,
    },
    family: {
      id: "f1",
      username: "alice",
      subject: "subject-alice",
      clientId: "app",
      createdAt: NOW - 10,
      expiresAt: NOW + 3600,
      accessExpiresAt: NOW + 900,
      revokedAt: null,
      clientConfidential: false,
      ...changes.family,
    },
  };
}

const refuse = () => {
  throw new Error("next must not be called");
};

Deno.test("planRotation decides revoked, then reused, then expired, and calls next only to rotate", () => {
  const revokedUsedExpired = state({
    token: { usedAt: NOW - 5, expiresAt: NOW - 1 },
    family: { revokedAt: NOW - 2 },
  });
  assert.deepEqual(planRotation(revokedUsedExpired, NOW, refuse), {
    write: "nothing",
    result: { outcome: "revoked", family: revokedUsedExpired.family },
  });
  const usedExpired = state({ token: { usedAt: NOW - 5, expiresAt: NOW - 1 } });
  assert.deepEqual(planRotation(usedExpired, NOW, refuse), {
    write: "revocation",
    family: { ...usedExpired.family, revokedAt: NOW },
  });
  for (
    const expired of [state({ token: { expiresAt: NOW } }), state({ family: { expiresAt: NOW } })]
  ) {
    assert.deepEqual(planRotation(expired, NOW, refuse), {
      write: "nothing",
      result: { outcome: "expired", family: expired.family },
    });
  }
  assert.deepEqual(planRotation(undefined, NOW, refuse), {
    write: "nothing",
    result: { outcome: "unknown" },
  });
});

Deno.test("planRotation caps the new token at the family's expiry and never shrinks its access expiry", () => {
  const current = state({ family: { expiresAt: NOW + 500, accessExpiresAt: NOW + 900 } });
  const step = planRotation(current, NOW, (seen) => {
    assert.equal(seen, current);
    return {
      tokenHash: "h2",
      scope: "hello read",
      expiresAt: NOW + 7200,
      accessExpiresAt: NOW + 600,
    };
  });
  assert.deepEqual(step, {
    write: "rotation",
    result: {
      outcome: "rotated",
      family: current.family,
      token: {
        tokenHash: "h2",
        familyId: "f1",
        scope: "hello read",
        createdAt: NOW,
        expiresAt: NOW + 500,
        usedAt: null,
      },
    },
  });
  const longer = planRotation(current, NOW, () => ({
    tokenHash: "h3",
    scope: "hello",
    expiresAt: NOW + 100,
    accessExpiresAt: NOW + 1200,
  }));
  assert.ok(longer.write === "rotation");
  assert.equal(longer.result.family.accessExpiresAt, NOW + 1200);
  assert.equal(longer.result.token.expiresAt, NOW + 100);
});

Deno.test("planRotation marks the family as a confidential client's when next says the client authenticated, and never unmarks one", () => {
  const next = (clientConfidential?: boolean) => () => ({
    tokenHash: "h2",
    scope: "hello",
    expiresAt: NOW + 100,
    accessExpiresAt: NOW + 900,
    clientConfidential,
  });
  const marks = (family: boolean | undefined, rotating: boolean | undefined) => {
    const step = planRotation(
      state({ family: { clientConfidential: family } }),
      NOW,
      next(rotating),
    );
    assert.ok(step.write === "rotation");
    return step.result.family.clientConfidential;
  };
  assert.equal(marks(false, true), true, "an unmarked family rotated by its confidential client");
  assert.equal(marks(undefined, true), true, "a family read without the column");
  assert.equal(marks(true, false), true, "a mark is never taken away");
  assert.equal(marks(true, undefined), true);
  assert.equal(marks(false, false), false, "a public client's family stays unmarked");
  assert.equal(marks(undefined, undefined), false);
});

/** An unused code issued five seconds before NOW and valid until a minute after it. */
const CODE: AuthorizationCodeRecord = codeRecord("c1", { nonce: null, createdAt: NOW - 5 });

Deno.test("planCodeUse redeems an unused valid code, marks only the first replay, even past expiry, and changes nothing else", () => {
  const redeemed = { ...CODE, usedAt: NOW };
  assert.deepEqual(planCodeUse(CODE, NOW), {
    result: { outcome: "redeemed", record: redeemed },
    changed: redeemed,
  });
  const replayed = { ...redeemed, replayedAt: NOW + 100 };
  assert.deepEqual(planCodeUse(redeemed, NOW + 100), {
    result: { outcome: "reused", record: replayed },
    changed: replayed,
  });
  assert.deepEqual(planCodeUse(replayed, NOW + 200), {
    result: { outcome: "reused", record: replayed },
  });
  assert.deepEqual(planCodeUse(CODE, NOW + 60), { result: { outcome: "expired", record: CODE } });
  assert.deepEqual(planCodeUse(undefined, NOW), { result: { outcome: "unknown" } });
});

Deno.test("refusalOf says why a pushed request was not taken: another client's first, then used before expired", () => {
  const row = { clientId: "app", expiresAt: NOW + 60, usedAt: null };
  assert.deepEqual(refusalOf(undefined, "app", NOW), { outcome: "unknown" });
  assert.deepEqual(refusalOf({ ...row, usedAt: NOW }, "other", NOW), { outcome: "other_client" });
  assert.deepEqual(refusalOf({ ...row, usedAt: NOW }, "app", NOW + 61), { outcome: "used" });
  assert.deepEqual(refusalOf(row, "app", NOW + 60), { outcome: "expired" });
});
