import assert from "node:assert/strict";
import {
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { generateSigningKey, KeyRing } from "../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../src/clock.ts";
import {
  ACCESS_TOKEN_TYPE,
  type AccessTokenOptions,
  AccessTokens,
  userNameOf,
} from "../src/auth/tokens/access_tokens.ts";
import { AuthFailure } from "../src/auth/errors.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { sleepUntil } from "./helpers/wait.ts";

const ISSUER = "https://issuer.test";
const AUDIENCE = "https://api.test";
const OPTIONS: AccessTokenOptions = {
  issuer: ISSUER,
  audience: AUDIENCE,
  ttlSeconds: 900,
  leewaySeconds: 30,
  maxTokenBytes: 8192,
};
const SECRET = "x".repeat(32);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Fixture extends AsyncDisposable {
  store: SqliteStore;
  keys: KeyRing;
  tokens: AccessTokens;
  /** Another service on the same keys, as on another instance: it has seen no token yet. */
  verifier: AccessTokens;
}

/** A token service on an ES256 key ring in a fresh in-memory store. */
async function es256(options: Partial<AccessTokenOptions> = {}): Promise<Fixture> {
  const store = await SqliteStore.open(":memory:");
  const keys = await KeyRing.open(store);
  return fixture(store, keys, options);
}

/** A token service on an HS256 key ring. */
async function hs256(options: Partial<AccessTokenOptions> = {}): Promise<Fixture> {
  const store = await SqliteStore.open(":memory:");
  const keys = await KeyRing.open(store, { secret: SECRET });
  return fixture(store, keys, options);
}

function fixture(store: SqliteStore, keys: KeyRing, options: Partial<AccessTokenOptions>): Fixture {
  return {
    store,
    keys,
    tokens: new AccessTokens(keys, { ...OPTIONS, ...options }),
    verifier: new AccessTokens(keys, { ...OPTIONS, ...options }),
    async [Symbol.asyncDispose]() {
      keys.close();
      await store.close();
    },
  };
}

/** Valid claims as of now, with `overrides` applied. */
function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = unixNow();
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "alice",
    iat: now,
    nbf: now,
    exp: now + 900,
    jti: crypto.randomUUID(),
    ...overrides,
  };
}

/** Signs `payload` by hand with the ring's signing key; `header` overrides the defaults. */
function signByHand(
  keys: KeyRing,
  payload: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { kid, alg, key } = keys.signingKey();
  return new SignJWT(payload)
    .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE, ...header })
    .sign(key);
}

function b64url(value: unknown): string {
  return new TextEncoder().encode(JSON.stringify(value)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** Asserts that `promise` rejects with AuthFailure("invalid_token", message). */
async function assertInvalid(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof AuthFailure, `expected AuthFailure, got ${error}`);
    assert.equal(error.code, "invalid_token");
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

// --- issue / verify round trips ---

Deno.test("AccessTokens.issue then verify round-trips every claim with ES256", async () => {
  await using f = await es256();
  const before = unixNow();
  const issued = await f.tokens.issue("alice", { scope: "read write", clientId: "cli" });
  const header = decodeProtectedHeader(issued.token);
  assert.deepEqual(header, { alg: "ES256", kid: f.keys.signingKey().kid, typ: "at+jwt" });
  const payload = decodeJwt(issued.token);
  assert.deepEqual(payload, issued.claims);
  assert.equal(payload.iss, ISSUER);
  assert.equal(payload.aud, AUDIENCE);
  assert.equal(payload.sub, "alice");
  assert.ok(payload.iat! >= before && payload.iat! <= unixNow());
  assert.equal(payload.nbf, payload.iat);
  assert.equal(payload.exp, payload.iat! + 900);
  assert.match(payload.jti!, UUID);
  assert.equal(payload.scope, "read write");
  assert.equal(payload.client_id, "cli");
  assert.equal(issued.expiresIn, 900);
  assert.deepEqual(await f.verifier.verify(issued.token), issued.claims);
  assert.equal(f.verifier.signatureChecks, 1);
});

Deno.test("AccessTokens.issue then verify round-trips every claim with HS256", async () => {
  await using f = await hs256();
  const issued = await f.tokens.issue("bob");
  const header = decodeProtectedHeader(issued.token);
  assert.deepEqual(header, { alg: "HS256", kid: f.keys.signingKey().kid, typ: "at+jwt" });
  const payload = decodeJwt(issued.token);
  assert.deepEqual(Object.keys(payload).sort(), ["aud", "exp", "iat", "iss", "jti", "nbf", "sub"]);
  assert.equal(payload.sub, "bob");
  assert.equal(payload.exp, payload.iat! + 900);
  assert.deepEqual(await f.verifier.verify(issued.token), issued.claims);
  assert.equal(f.verifier.signatureChecks, 1);
});

Deno.test("AccessTokens.issue gives every token a different jti", async () => {
  await using f = await es256();
  const [a, b] = await Promise.all([f.tokens.issue("alice"), f.tokens.issue("alice")]);
  assert.notEqual(a.claims.jti, b.claims.jti);
  assert.notEqual(a.token, b.token);
});

// --- claim checks ---

Deno.test("AccessTokens.verify rejects a token for another issuer", async () => {
  await using f = await es256();
  const other = new AccessTokens(f.keys, { ...OPTIONS, issuer: "https://other.test" });
  const { token } = await other.issue("alice");
  await assertInvalid(f.tokens.verify(token), 'Invalid "iss" claim');
});

Deno.test("AccessTokens.verify rejects a token for another audience", async () => {
  await using f = await es256();
  const other = new AccessTokens(f.keys, { ...OPTIONS, audience: "https://other.test" });
  const { token } = await other.issue("alice");
  await assertInvalid(f.tokens.verify(token), 'Invalid "aud" claim');
});

Deno.test('AccessTokens.verify rejects an expired token with "Token has expired"', async () => {
  await using f = await es256({ ttlSeconds: 1, leewaySeconds: 0 });
  const now = unixNow();
  const token = await signByHand(f.keys, claims({ iat: now - 20, nbf: now - 20, exp: now - 10 }));
  await assertInvalid(f.tokens.verify(token), "Token has expired");
});

Deno.test("AccessTokens.verify accepts a token that expired within the leeway", async () => {
  await using f = await es256({ leewaySeconds: 30 });
  const now = unixNow();
  const token = await signByHand(f.keys, claims({ iat: now - 60, nbf: now - 60, exp: now - 5 }));
  assert.equal((await f.tokens.verify(token)).sub, "alice");
});

Deno.test("AccessTokens.verify rejects a token whose nbf is in the future beyond the leeway", async () => {
  await using f = await es256({ leewaySeconds: 30 });
  const token = await signByHand(f.keys, claims({ nbf: unixNow() + 120 }));
  await assertInvalid(f.tokens.verify(token), "Token is not yet valid");
});

Deno.test("AccessTokens.verify accepts a token whose nbf is in the future within the leeway", async () => {
  await using f = await es256({ leewaySeconds: 30 });
  const token = await signByHand(f.keys, claims({ nbf: unixNow() + 10 }));
  assert.equal((await f.tokens.verify(token)).sub, "alice");
});

Deno.test("AccessTokens.verify rejects a token missing any required claim", async () => {
  await using f = await es256();
  for (const claim of ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"]) {
    const payload = claims();
    delete payload[claim];
    const token = await signByHand(f.keys, payload);
    await assertInvalid(f.tokens.verify(token), `Invalid "${claim}" claim`);
  }
});

Deno.test("AccessTokens.issue names a user beside their subject, and userNameOf reads the name: none for a client's own token", async () => {
  await using f = await es256();
  const subject = "5d41402abc4b2a76b9719d911017c592";
  const user = await f.tokens.issue(subject, {
    username: "alice",
    clientId: "app",
    familyId: "f1",
  });
  const verified = await f.verifier.verify(user.token);
  assert.equal(verified.sub, subject);
  assert.equal(verified.preferred_username, "alice");
  assert.equal(userNameOf(verified), "alice");
  const own = await f.tokens.issue("reporting", { clientId: "reporting", scope: "hello" });
  const client = await f.verifier.verify(own.token);
  assert.equal(client.preferred_username, undefined);
  assert.equal(userNameOf(client), undefined, "a client is never taken for a user");
  // Signed before subjects were opaque: `sub` was the name, and every user's token had a family.
  const before = await signByHand(f.keys, claims({ sub: "bob", sid: "f0", client_id: "auth-api" }));
  assert.equal(userNameOf(await f.verifier.verify(before)), "bob");
});

Deno.test("AccessTokens.verify rejects a token whose sub, jti or preferred_username is not a string", async () => {
  await using f = await es256();
  const wrong = [{ sub: 42 }, { jti: 42 }, { sub: ["alice"] }, { preferred_username: { a: 1 } }];
  for (const bad of wrong) {
    const token = await signByHand(f.keys, claims(bad as unknown as JWTPayload));
    await assertInvalid(f.tokens.verify(token), /^Invalid/);
  }
});

Deno.test('AccessTokens.verify rejects a token with header typ "JWT" or no typ', async () => {
  await using f = await es256();
  for (const typ of ["JWT", "jwt", "id_token+jwt", undefined]) {
    const token = await signByHand(f.keys, claims(), { typ });
    await assertInvalid(f.tokens.verify(token), 'Invalid "typ" claim');
  }
});

// --- algorithm and key attacks ---

Deno.test('AccessTokens.verify rejects an unsigned alg "none" token', async () => {
  await using f = await es256();
  const header = b64url({ alg: "none", kid: f.keys.signingKey().kid, typ: "at+jwt" });
  const payload = b64url(claims());
  await assertInvalid(f.tokens.verify(`${header}.${payload}.`), "Malformed token");
  await assertInvalid(f.tokens.verify(`${header}.${payload}.c2ln`), "Unexpected token algorithm");
  const noneHeader = b64url({ alg: "none", typ: "at+jwt" });
  await assertInvalid(f.tokens.verify(`${noneHeader}.${payload}.c2ln`), "Unknown signing key");
});

Deno.test("AccessTokens.verify rejects HS256 signed with the ES256 public key (key confusion)", async () => {
  await using f = await es256();
  const { kid } = f.keys.signingKey();
  const jwk = f.keys.publicJwks()[0];
  const publicKey = await importJWK(jwk, "ES256", { extractable: true }) as CryptoKey;
  const candidates = [
    new TextEncoder().encode(await exportSPKI(publicKey)),
    new TextEncoder().encode(JSON.stringify(jwk)),
    new Uint8Array(await crypto.subtle.exportKey("raw", publicKey)),
  ];
  for (const secret of candidates) {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: "HS256", kid, typ: "at+jwt" })
      .sign(secret);
    await assertInvalid(f.tokens.verify(token), "Unexpected token algorithm");
  }
});

Deno.test("AccessTokens.verify rejects an ES256 token on an HS256 service", async () => {
  await using es = await es256();
  await using hs = await hs256();
  const { token } = await es.tokens.issue("alice");
  await assertInvalid(hs.tokens.verify(token), "Unknown signing key");
  const relabelled = await signByHand(es.keys, claims(), { kid: hs.keys.signingKey().kid });
  await assertInvalid(hs.tokens.verify(relabelled), "Unexpected token algorithm");
});

Deno.test("AccessTokens.verify rejects an unknown, missing or non-string kid", async () => {
  await using f = await es256();
  for (const kid of ["no-such-key", "", undefined, 42, null]) {
    const token = await signByHand(f.keys, claims(), { kid });
    await assertInvalid(f.tokens.verify(token), "Unknown signing key");
  }
});

Deno.test("AccessTokens.verify rejects path and SQL injection in kid as unknown keys", async () => {
  await using f = await es256();
  for (const kid of ["../../dev/null", "' OR 1=1 --", '" OR ""="', "*", "%"]) {
    const token = await signByHand(f.keys, claims(), { kid });
    await assertInvalid(f.tokens.verify(token), "Unknown signing key");
  }
  // The store still works and holds only the one real key afterwards.
  assert.equal((await f.store.listSigningKeys(unixNow())).length, 1);
});

Deno.test("AccessTokens.verify rejects a token signed by a key from another store", async () => {
  await using ours = await es256();
  await using theirs = await es256();
  const { token } = await theirs.tokens.issue("alice");
  await assertInvalid(ours.tokens.verify(token), "Unknown signing key");
});

Deno.test("AccessTokens.verify ignores an attacker key embedded as jwk/jku in the header", async () => {
  await using f = await es256();
  const attacker = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(attacker.publicKey);
  const attackerKid = await calculateJwkThumbprint(jwk);
  const ourKid = f.keys.signingKey().kid;
  const sign = async (header: Record<string, unknown>) =>
    f.tokens.verify(
      await new SignJWT(claims())
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", ...header })
        .sign(attacker.privateKey),
    );
  await assertInvalid(sign({ kid: ourKid, jwk }), "Signature verification failed");
  await assertInvalid(
    sign({ kid: ourKid, jku: "https://attacker.test/jwks.json" }),
    "Signature verification failed",
  );
  await assertInvalid(
    sign({ kid: attackerKid, jwk: { ...jwk, kid: attackerKid } }),
    "Unknown signing key",
  );
  await assertInvalid(
    sign({ kid: attackerKid, jku: "https://attacker.test/jwks.json" }),
    "Unknown signing key",
  );
  await assertInvalid(sign({ jwk }), "Unknown signing key");
});

// --- shape checks ---

Deno.test("AccessTokens.verify rejects a token longer than maxTokenBytes", async () => {
  await using f = await es256({ maxTokenBytes: 600 });
  const small = await f.tokens.issue("alice");
  assert.ok(small.token.length <= 600);
  assert.equal((await f.tokens.verify(small.token)).sub, "alice");
  const big = await f.tokens.issue("alice", { scope: "s".repeat(600) });
  assert.ok(big.token.length > 600);
  await assertInvalid(f.tokens.verify(big.token), "Token is too large");
  await assertInvalid(f.tokens.verify("a".repeat(10_000_000)), "Token is too large");
});

Deno.test("AccessTokens.verify rejects tokens with two or four segments", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  const [h, p, s] = token.split(".");
  for (const bad of [`${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.`, "", ".", "..", "a"]) {
    await assertInvalid(f.tokens.verify(bad), "Malformed token");
  }
});

Deno.test("AccessTokens.verify rejects non-base64url characters", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  const [h, p, s] = token.split(".");
  const bad = [
    `${h}.${p}.${s}=`,
    `${h}+.${p}.${s}`,
    `${h}.${p}/.${s}`,
    ` ${token}`,
    `${token}\n`,
    `${h}.${p}.${s.slice(0, -1)}é`,
    `${h}.${p}%2e.${s}`,
  ];
  for (const candidate of bad) {
    await assertInvalid(f.tokens.verify(candidate), "Malformed token");
  }
});

Deno.test("AccessTokens.verify rejects a header that is not JSON", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  const [, p, s] = token.split(".");
  const notJson = new TextEncoder().encode("{alg").toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
  await assertInvalid(f.tokens.verify(`${notJson}.${p}.${s}`), "Malformed token");
});

Deno.test("AccessTokens.verify rejects a tampered payload", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  const [h, , s] = token.split(".");
  const forged = `${h}.${b64url({ ...decodeJwt(token), sub: "admin" })}.${s}`;
  await assertInvalid(f.tokens.verify(forged), "Signature verification failed");
});

Deno.test("AccessTokens.verify rejects a tampered signature", async () => {
  for (const make of [es256, hs256]) {
    await using f = await make();
    const { token } = await f.tokens.issue("alice");
    const [h, p, s] = token.split(".");
    const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
    await assertInvalid(f.tokens.verify(`${h}.${p}.${flipped}`), "Signature verification failed");
  }
});

Deno.test("AccessTokens.verify rejects an HS256 token signed with another secret", async () => {
  await using f = await hs256();
  const token = await new SignJWT(claims())
    .setProtectedHeader({ alg: "HS256", kid: f.keys.signingKey().kid, typ: "at+jwt" })
    .sign(new TextEncoder().encode("y".repeat(32)));
  await assertInvalid(f.tokens.verify(token), "Signature verification failed");
});

// --- cache ---

Deno.test("AccessTokens.verify caches a verified token and returns the same claims again", async () => {
  await using f = await es256();
  const { token, claims: issued } = await f.tokens.issue("alice");
  assert.equal(f.verifier.cachedCount, 0);
  const first = await f.verifier.verify(token);
  assert.equal(f.verifier.cachedCount, 1);
  const second = await f.verifier.verify(token);
  assert.equal(f.verifier.cachedCount, 1);
  assert.equal(f.verifier.signatureChecks, 1);
  assert.deepEqual(first, issued);
  assert.deepEqual(second, issued);
});

Deno.test("AccessTokens.issue caches the token it signs: its first verification checks no signature", async () => {
  await using f = await es256();
  const { token, claims: issued } = await f.tokens.issue("alice");
  assert.equal(f.tokens.cachedCount, 1);
  assert.deepEqual(await f.tokens.verify(token), issued);
  assert.equal(f.tokens.signatureChecks, 0);
  assert.ok(Object.isFrozen(await f.tokens.verify(token)));
  assert.ok(!Object.isFrozen(issued), "the caller's claims are not the cached object");
});

Deno.test("AccessTokens.verify does not cache a rejected token", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  const [h, p, s] = token.split(".");
  const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
  await assertInvalid(f.verifier.verify(`${h}.${p}.${flipped}`), "Signature verification failed");
  await assertInvalid(f.verifier.verify(`${h}.${p}.${flipped}`), "Signature verification failed");
  assert.equal(f.verifier.cachedCount, 0);
  assert.equal(f.verifier.signatureChecks, 2);
});

Deno.test("AccessTokens cache never holds more than cacheSize tokens", async () => {
  await using f = await es256({ cacheSize: 3 });
  const issued = await Promise.all(Array.from({ length: 10 }, (_, i) => f.tokens.issue(`u${i}`)));
  for (const { token, claims: expected } of issued) {
    assert.deepEqual(await f.tokens.verify(token), expected);
    assert.ok(f.tokens.cachedCount <= 3, `cachedCount ${f.tokens.cachedCount}`);
  }
  assert.equal(f.tokens.cachedCount, 3);
  // Evicted tokens still verify, by signature.
  assert.equal((await f.tokens.verify(issued[0].token)).sub, "u0");
  assert.equal(f.tokens.cachedCount, 3);
});

Deno.test("AccessTokens with cacheSize 0 caches nothing", async () => {
  await using f = await es256({ cacheSize: 0 });
  const { token } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  await f.tokens.verify(token);
  assert.equal(f.tokens.cachedCount, 0);
});

Deno.test("AccessTokens.verify refuses a cached token once it has expired", async () => {
  await using f = await es256({ ttlSeconds: 1, leewaySeconds: 0 });
  const { token, claims } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  assert.equal(f.tokens.cachedCount, 1);
  await sleepUntil(claims.exp); // the token expires
  await assertInvalid(f.tokens.verify(token), "Token has expired");
  assert.equal(f.tokens.cachedCount, 0);
});

Deno.test("AccessTokens.verify refuses a cached token after its signing key retires", async () => {
  await using f = await es256();
  const oldKid = f.keys.signingKey().kid;
  const { token } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  assert.equal(f.tokens.cachedCount, 1);
  const now = unixNow();
  await f.store.rotateSigningKey(await generateSigningKey(now), now - 1, now);
  await f.keys.refresh();
  assert.notEqual(f.keys.signingKey().kid, oldKid);
  await assertInvalid(f.tokens.verify(token), "Unknown signing key");
  const fresh = await f.tokens.issue("alice");
  assert.equal(decodeProtectedHeader(fresh.token).kid, f.keys.signingKey().kid);
  assert.equal((await f.tokens.verify(fresh.token)).sub, "alice");
});

Deno.test("AccessTokens.verify accepts a cached token while its rotated key has not retired", async () => {
  await using f = await es256();
  const { token } = await f.tokens.issue("alice");
  await f.tokens.verify(token);
  const now = unixNow();
  await f.store.rotateSigningKey(await generateSigningKey(now), now + 3600, now);
  await f.keys.refresh();
  assert.equal((await f.tokens.verify(token)).sub, "alice");
});
