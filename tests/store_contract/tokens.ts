/**
 * @module
 * The tokens part of the store contract, but for refresh families (refresh_families.ts): signing
 * keys, ID-token keys and revocations.
 */
import assert from "node:assert/strict";
import { type NewSigningKey, publicHalf } from "../../src/store/store.ts";
import { type ContractContext, keyRecord, NOW } from "./setup.ts";

/** Registers the tokens cases. */
export function tokensContract({ test, testReopening }: ContractContext): void {
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

  // --- across connections ---

  testReopening(
    "revocation, rotation and first-key creation racing on two connections leave one current key",
    async (store, reopen) => {
      const other = await reopen();
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
    },
  );
}
