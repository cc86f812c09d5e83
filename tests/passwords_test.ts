import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import { MIN_PBKDF2_ITERATIONS, PasswordHasher } from "../src/auth/passwords.ts";

const PHC = /^\$pbkdf2-sha256\$i=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
/** Few iterations keep the suite fast; only one test pays for the real default. */
const FAST = 1000;

Deno.test("PasswordHasher defaults to at least MIN_PBKDF2_ITERATIONS (600000)", async () => {
  assert.ok(MIN_PBKDF2_ITERATIONS >= 600_000);
  const hasher = new PasswordHasher();
  assert.equal(hasher.iterations, MIN_PBKDF2_ITERATIONS);
  const stored = await hasher.hash("password1"); // the one real 600k hash
  assert.equal(PHC.exec(stored)?.[1], String(MIN_PBKDF2_ITERATIONS));
});

Deno.test("PasswordHasher constructor rejects a non-positive or fractional iteration count", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new PasswordHasher(bad), RangeError);
  }
});

Deno.test("PasswordHasher.hash returns a PHC string $pbkdf2-sha256$i=N$salt$hash", async () => {
  const stored = await new PasswordHasher(FAST).hash("password1");
  const match = PHC.exec(stored);
  assert.ok(match, `not a PHC string: ${stored}`);
  assert.equal(match[1], String(FAST));
  assert.equal(Uint8Array.fromBase64(match[2]).length, 16, "16-byte salt");
  assert.equal(Uint8Array.fromBase64(match[3]).length, 32, "32-byte hash");
  assert.ok(!match[2].includes("=") && !match[3].includes("="), "unpadded base64");
});

Deno.test("PasswordHasher.hash uses a fresh random salt for the same password", async () => {
  const hasher = new PasswordHasher(FAST);
  const [a, b] = await Promise.all([hasher.hash("password1"), hasher.hash("password1")]);
  assert.notEqual(a, b);
  assert.notEqual(PHC.exec(a)![2], PHC.exec(b)![2]);
});

Deno.test("PasswordHasher.hash is PBKDF2-HMAC-SHA256 (matches node:crypto pbkdf2Sync)", async () => {
  const stored = await new PasswordHasher(FAST).hash("pässwörd 1");
  const [, iterations, salt, hash] = PHC.exec(stored)!;
  const expected = pbkdf2Sync(
    new TextEncoder().encode("pässwörd 1"),
    Uint8Array.fromBase64(salt),
    Number(iterations),
    32,
    "sha256",
  );
  assert.equal(hash, new Uint8Array(expected).toBase64({ omitPadding: true }));
});

Deno.test("PasswordHasher.verify accepts a hash built independently with node:crypto", async () => {
  const salt = new Uint8Array(16).fill(7);
  const hash = pbkdf2Sync("password1", salt, 2000, 32, "sha256");
  const stored = `$pbkdf2-sha256$i=2000$${salt.toBase64({ omitPadding: true })}$${
    new Uint8Array(hash).toBase64({ omitPadding: true })
  }`;
  const check = await new PasswordHasher(2000).verify("password1", stored);
  assert.deepEqual(check, { ok: true, needsRehash: false });
});

Deno.test("PasswordHasher.verify accepts the right password", async () => {
  const hasher = new PasswordHasher(FAST);
  const check = await hasher.verify("password1", await hasher.hash("password1"));
  assert.deepEqual(check, { ok: true, needsRehash: false });
});

Deno.test("PasswordHasher.verify rejects a wrong password", async () => {
  const hasher = new PasswordHasher(FAST);
  const stored = await hasher.hash("password1");
  for (const wrong of ["password2", "Password1", "password1 ", "", "password"]) {
    assert.deepEqual(await hasher.verify(wrong, stored), { ok: false, needsRehash: false });
  }
});

Deno.test("PasswordHasher.verify returns ok false (never throws) for malformed stored strings", async () => {
  const hasher = new PasswordHasher(FAST);
  const good = await hasher.hash("password1");
  const [, , salt, hash] = PHC.exec(good)!;
  const malformed = [
    "",
    "password1",
    "$pbkdf2-sha256$",
    `$pbkdf2-sha512$i=${FAST}$${salt}$${hash}`,
    `$pbkdf2-sha256$i=$${salt}$${hash}`,
    `$pbkdf2-sha256$i=-5$${salt}$${hash}`,
    `$pbkdf2-sha256$i=abc$${salt}$${hash}`,
    `$pbkdf2-sha256$i=0$${salt}$${hash}`,
    `$pbkdf2-sha256$i=${FAST}$$${hash}`,
    `$pbkdf2-sha256$i=${FAST}$${salt}$`,
    `$pbkdf2-sha256$i=${FAST}$${salt}$${hash}$extra`,
    `$pbkdf2-sha256$i=${FAST}$${salt}!$${hash}`,
    `$pbkdf2-sha256$i=${FAST}$A$${hash}`, // one base64 character is not a byte
    `$pbkdf2-sha256$i=${FAST}$${salt}$A`,
    `$pbkdf2-sha256$i=${FAST}$${salt}$AAAAA`,
    ` ${good}`,
    `${good}\n`,
  ];
  for (const stored of malformed) {
    const check = await hasher.verify("password1", stored).catch((error) => {
      assert.fail(`verify threw for ${JSON.stringify(stored)}: ${error}`);
    });
    assert.deepEqual(check, { ok: false, needsRehash: false }, JSON.stringify(stored));
  }
});

Deno.test("PasswordHasher.verify returns ok false for an iteration count Web Crypto refuses", async () => {
  const hasher = new PasswordHasher(FAST);
  const [, , salt, hash] = PHC.exec(await hasher.hash("password1"))!;
  for (const iterations of ["99999999999", "9".repeat(400)]) {
    const check = await hasher.verify(
      "password1",
      `$pbkdf2-sha256$i=${iterations}$${salt}$${hash}`,
    );
    assert.equal(check.ok, false);
  }
});

Deno.test("PasswordHasher.verify asks for a rehash when stored iterations are below current", async () => {
  const stored = await new PasswordHasher(FAST).hash("password1");
  const stronger = new PasswordHasher(FAST * 2);
  assert.deepEqual(await stronger.verify("password1", stored), { ok: true, needsRehash: true });
  assert.deepEqual(await stronger.verify("wrong-password", stored), {
    ok: false,
    needsRehash: false,
  });
  const weaker = new PasswordHasher(FAST / 2);
  assert.deepEqual(await weaker.verify("password1", stored), { ok: true, needsRehash: false });
});

Deno.test("PasswordHasher.verifyDummy resolves for any password", async () => {
  const hasher = new PasswordHasher(FAST);
  assert.equal(await hasher.verifyDummy("password1"), undefined);
  assert.equal(await hasher.verifyDummy(""), undefined);
});
