/**
 * @module
 * The signing keys below the routes (`SigningKeys` and `generateSigningKey` over SQLite): one key named
 * by its RFC 7638 thumbprint made once even by two stores opening one file at once, rotations,
 * retirements and revocations picked up by refresh, public JWKS without private members, HS256 with
 * JWT_SECRET, and private keys read only when another key becomes current.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { calculateJwkThumbprint, type JWK } from "jose";
import {
  DEFAULT_SIGNING_ALG,
  generateSigningKey,
  SigningKeys,
} from "../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../src/clock.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { waitFor } from "./helpers/wait.ts";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

Deno.test("SigningKeys.open on a fresh store creates exactly one ES256 key named by its thumbprint", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const keys = await SigningKeys.open(store);
  const records = await store.listSigningKeys(unixNow());
  assert.equal(records.length, 1);
  const [record] = records;
  assert.equal(record.alg, DEFAULT_SIGNING_ALG);
  assert.equal(record.alg, "ES256");
  assert.equal(record.retiresAt, null);
  const publicJwk = JSON.parse(record.publicJwk) as JWK;
  assert.equal(record.kid, await calculateJwkThumbprint(publicJwk, "sha256"));
  assert.equal(keys.signingKey().kid, record.kid);
  assert.equal(keys.signingKey().alg, "ES256");
  assert.equal((keys.signingKey().key as CryptoKey).type, "private");
  assert.equal(keys.symmetric, false);
});

Deno.test("generateSigningKey makes a distinct P-256 key whose kid is the RFC 7638 thumbprint", async () => {
  const now = unixNow();
  const [a, b] = await Promise.all([generateSigningKey(now), generateSigningKey(now)]);
  assert.notEqual(a.kid, b.kid);
  for (const record of [a, b]) {
    const publicJwk = JSON.parse(record.publicJwk) as JWK;
    const privateJwk = JSON.parse(record.privateJwk) as JWK;
    assert.equal(publicJwk.kty, "EC");
    assert.equal(publicJwk.crv, "P-256");
    assert.equal(publicJwk.d, undefined);
    assert.equal(typeof privateJwk.d, "string");
    // RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
    const canonical = JSON.stringify({
      crv: publicJwk.crv,
      kty: publicJwk.kty,
      x: publicJwk.x,
      y: publicJwk.y,
    });
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
    assert.equal(
      record.kid,
      new Uint8Array(digest).toBase64({ alphabet: "base64url", omitPadding: true }),
    );
    assert.equal(record.createdAt, now);
    assert.equal(record.retiresAt, null);
  }
});

Deno.test("SigningKeys.open reuses the stored key when reopened (same kid)", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "auth.db");
    let kid: string;
    {
      await using store = disposable(await SqliteStore.open(path));
      kid = (await SigningKeys.open(store)).signingKey().kid;
      assert.equal((await SigningKeys.open(store)).signingKey().kid, kid);
    }
    await using store = disposable(await SqliteStore.open(path));
    const keys = await SigningKeys.open(store);
    assert.equal(keys.signingKey().kid, kid);
    assert.equal((await store.listSigningKeys(unixNow())).length, 1);
  });
});

Deno.test("SigningKeys.open from two stores on one file at once creates only one key", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "auth.db");
    await using a = disposable(await SqliteStore.open(path));
    await using b = disposable(await SqliteStore.open(path));
    const rings = await Promise.all([
      SigningKeys.open(a),
      SigningKeys.open(b),
      SigningKeys.open(a),
    ]);
    const kids = new Set(rings.map((ring) => ring.signingKey().kid));
    assert.equal(kids.size, 1);
    assert.equal((await a.listSigningKeys(unixNow())).length, 1);
  });
});

Deno.test("SigningKeys.refresh picks up a rotation: new signing kid, old kid verifies until it retires", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const keys = await SigningKeys.open(store);
  const oldKid = keys.signingKey().kid;
  const now = unixNow();
  const next = await generateSigningKey(now);
  await store.rotateSigningKey(next, now + 60, now);

  assert.equal(keys.signingKey().kid, oldKid, "nothing changes before refresh");
  await keys.refresh();
  assert.equal(keys.signingKey().kid, next.kid);
  assert.notEqual(next.kid, oldKid);

  const old = keys.verificationKey(oldKid, now);
  assert.ok(old, "old key still verifies before it retires");
  assert.equal(old.retiresAt, now + 60);
  assert.ok(keys.verificationKey(oldKid, now + 59));
  assert.equal(keys.verificationKey(oldKid, now + 60), undefined, "retired at retiresAt");
  assert.equal(keys.verificationKey(oldKid, now + 3600), undefined);
  assert.ok(keys.verificationKey(next.kid, now + 3600), "current key never retires");
  assert.equal(keys.verificationKey(next.kid)?.retiresAt, undefined);
  assert.deepEqual(keys.publicJwks().map((jwk) => jwk.kid).sort(), [oldKid, next.kid].sort());
});

Deno.test("SigningKeys.refresh drops a key whose retirement time has passed", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const keys = await SigningKeys.open(store);
  const oldKid = keys.signingKey().kid;
  const now = unixNow();
  const next = await generateSigningKey(now);
  await store.rotateSigningKey(next, now - 1, now);
  await keys.refresh();
  assert.equal(keys.verificationKey(oldKid), undefined);
  assert.deepEqual(keys.publicJwks().map((jwk) => jwk.kid), [next.kid]);
});

Deno.test("SigningKeys with refreshIntervalMs picks up a rotation made elsewhere", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const keys = await SigningKeys.open(store, { refreshIntervalMs: 20 });
  try {
    const now = unixNow();
    const next = await generateSigningKey(now);
    await store.rotateSigningKey(next, now + 60, now);
    await waitFor("the key ring to re-read the store", () => keys.signingKey().kid === next.kid, {
      timeoutMs: 2000,
      intervalMs: 20,
    });
    assert.equal(keys.signingKey().kid, next.kid);
  } finally {
    keys.close();
  }
});

Deno.test("SigningKeys.publicJwks lists public ES256 keys without private members", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const keys = await SigningKeys.open(store);
  const now = unixNow();
  await store.rotateSigningKey(await generateSigningKey(now), now + 60, now);
  await keys.refresh();
  const jwks = keys.publicJwks();
  assert.equal(jwks.length, 2);
  for (const jwk of jwks) {
    for (const member of PRIVATE_MEMBERS) assert.equal(member in jwk, false, `has "${member}"`);
    assert.equal(jwk.kty, "EC");
    assert.equal(jwk.crv, "P-256");
    assert.equal(jwk.alg, "ES256");
    assert.equal(jwk.use, "sig");
    assert.equal(typeof jwk.kid, "string");
  }
  assert.ok(!JSON.stringify(jwks).includes('"d"'));
});

Deno.test("SigningKeys.open with a secret is HS256: symmetric, empty publicJwks, store untouched", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const keys = await SigningKeys.open(store, { secret: "x".repeat(32) });
  assert.equal(keys.symmetric, true);
  assert.deepEqual(keys.publicJwks(), []);
  const { kid, alg, key } = keys.signingKey();
  assert.equal(alg, "HS256");
  assert.deepEqual(key, new TextEncoder().encode("x".repeat(32)));
  assert.equal(keys.verificationKey(kid)?.alg, "HS256");
  assert.equal(keys.verificationKey("other"), undefined);
  await keys.refresh();
  assert.deepEqual(await store.listSigningKeys(unixNow()), []);
  const other = await SigningKeys.open(store, { secret: "y".repeat(32) });
  assert.notEqual(other.signingKey().kid, kid, "kid depends on the secret");
});

Deno.test("SigningKeys.refresh drops a revoked key at once and signs with its replacement", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const keys = await SigningKeys.open(store);
  const revokedKid = keys.signingKey().kid;
  const replacement = await generateSigningKey(unixNow());
  assert.equal(await store.revokeSigningKey(revokedKid, replacement), "current");
  assert.ok(keys.verificationKey(revokedKid), "nothing changes before refresh");
  await keys.refresh();
  assert.equal(keys.verificationKey(revokedKid), undefined);
  assert.equal(keys.signingKey().kid, replacement.kid);
  assert.equal((keys.signingKey().key as CryptoKey).type, "private");
  assert.deepEqual(keys.publicJwks().map((jwk) => jwk.kid), [replacement.kid]);
});

Deno.test("SigningKeys reads a private key only when another key becomes current, not at every refresh", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const reads: string[] = [];
  const counting = new Proxy(store, {
    get(target, name) {
      if (name === "currentPrivateJwk") {
        return (kid: string) => {
          reads.push(kid);
          return target.currentPrivateJwk(kid);
        };
      }
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const keys = await SigningKeys.open(counting);
  const first = keys.signingKey().kid;
  for (let i = 0; i < 5; i++) await keys.refresh();
  assert.deepEqual(reads, [first]);
  const now = unixNow();
  const next = await generateSigningKey(now);
  await store.rotateSigningKey(next, now + 60, now);
  for (let i = 0; i < 5; i++) await keys.refresh();
  assert.deepEqual(reads, [first, next.kid]);
  assert.equal(keys.signingKey().kid, next.kid);
});

for (const [alg, kty, crv] of [["EdDSA", "OKP", "Ed25519"], ["RS256", "RSA", undefined]] as const) {
  Deno.test(`generateSigningKey and SigningKeys.open make ${alg} keys named by their thumbprint`, async () => {
    const record = await generateSigningKey(unixNow(), alg);
    const publicJwk = JSON.parse(record.publicJwk) as JWK;
    assert.equal(record.alg, alg);
    assert.equal(publicJwk.alg, alg);
    assert.equal(publicJwk.kty, kty);
    assert.equal(publicJwk.crv, crv);
    assert.equal(publicJwk.use, "sig");
    for (const member of PRIVATE_MEMBERS) assert.equal(member in publicJwk, false, member);
    assert.equal(typeof (JSON.parse(record.privateJwk) as JWK).d, "string");
    assert.equal(record.kid, await calculateJwkThumbprint(publicJwk, "sha256"));

    await using store = disposable(await SqliteStore.open(":memory:"));
    const keys = await SigningKeys.open(store, { alg });
    assert.equal(keys.signingKey().alg, alg);
    assert.deepEqual(keys.verificationAlgs(), [alg]);
    assert.equal((await store.listSigningKeys(unixNow()))[0].alg, alg);
  });
}

Deno.test("SigningKeys.open keeps the stored key whatever alg it is asked for; a rotation elsewhere switches it", async () => {
  await using store = disposable(await SqliteStore.open(":memory:"));
  const first = await SigningKeys.open(store); // ES256
  const other = await SigningKeys.open(store, { alg: "RS256" }); // another instance, another JWT_ALG
  assert.equal(other.signingKey().kid, first.signingKey().kid);
  assert.equal(other.signingKey().alg, "ES256");
  const now = unixNow();
  const next = await generateSigningKey(now, "EdDSA");
  await store.rotateSigningKey(next, now + 60, now);
  await Promise.all([first.refresh(), other.refresh()]);
  for (const ring of [first, other]) {
    assert.equal(ring.signingKey().kid, next.kid);
    assert.equal(ring.signingKey().alg, "EdDSA");
    assert.deepEqual(ring.verificationAlgs(now), ["EdDSA", "ES256"]);
    assert.deepEqual(ring.verificationAlgs(now + 60), ["EdDSA"]);
  }
});

/** Closes the store at the end of the scope. */
function disposable(store: SqliteStore): SqliteStore & AsyncDisposable {
  return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
}
