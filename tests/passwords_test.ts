/**
 * @module
 * Password hashing (`Passwords`): PBKDF2-HMAC-SHA256 in a PHC string with a fresh salt,
 * matching node:crypto both ways, iteration counts between the floor (600000 in production) and the
 * ceiling, rehash requests for older counts, refusal without running PBKDF2 of anything it would
 * not make, and the dummy hash that costs an unknown user's login what a real one costs.
 */
import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import {
  MAX_PBKDF2_ITERATIONS,
  MIN_PBKDF2_ITERATIONS,
  Passwords,
} from "../src/auth/accounts/passwords.ts";

const PHC = /^\$pbkdf2-sha256\$i=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
/** Few iterations keep the suite fast; only one test pays for the real default. */
const FAST = 1000;
/** The floor of the fast hashers' stored hashes. */
const FLOOR = 100;

/** A hasher with a test-sized iteration count, accepting stored hashes from FLOOR up. */
function fast(iterations = FAST): Passwords {
  return new Passwords(iterations, { minIterations: FLOOR });
}

/** The iteration count of a hasher's dummy hash. */
async function dummyIterations(hasher: Passwords): Promise<number> {
  return Number(PHC.exec(await hasher.prepare())![1]);
}

/** A PHC string of `iterations` over the given salt and digest bytes. */
function phc(iterations: number | string, salt: Uint8Array, digest: Uint8Array): string {
  return `$pbkdf2-sha256$i=${iterations}$${salt.toBase64({ omitPadding: true })}$${
    digest.toBase64({ omitPadding: true })
  }`;
}

Deno.test("Passwords defaults to at least MIN_PBKDF2_ITERATIONS (600000)", async () => {
  assert.ok(MIN_PBKDF2_ITERATIONS >= 600_000);
  const hasher = new Passwords();
  assert.equal(hasher.iterations, MIN_PBKDF2_ITERATIONS);
  const stored = await hasher.hash("password1"); // the one real 600k hash
  assert.equal(PHC.exec(stored)?.[1], String(MIN_PBKDF2_ITERATIONS));
});

Deno.test("Passwords constructor rejects a count that is not whole or lies outside the floor and the ceiling", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_PBKDF2_ITERATIONS + 1]) {
    assert.throws(() => new Passwords(bad), RangeError);
  }
  assert.throws(() => new Passwords(MIN_PBKDF2_ITERATIONS - 1), RangeError, "below the floor");
  assert.throws(() => new Passwords(FAST, { minIterations: 0 }), RangeError);
  assert.throws(() => new Passwords(FAST, { minIterations: FAST + 1 }), RangeError);
  assert.equal(new Passwords().minIterations, MIN_PBKDF2_ITERATIONS);
  assert.equal(new Passwords(MAX_PBKDF2_ITERATIONS).iterations, MAX_PBKDF2_ITERATIONS);
});

Deno.test("Passwords.hash returns a PHC string $pbkdf2-sha256$i=N$salt$hash", async () => {
  const stored = await fast().hash("password1");
  const match = PHC.exec(stored);
  assert.ok(match, `not a PHC string: ${stored}`);
  assert.equal(match[1], String(FAST));
  assert.equal(Uint8Array.fromBase64(match[2]).length, 16, "16-byte salt");
  assert.equal(Uint8Array.fromBase64(match[3]).length, 32, "32-byte hash");
  assert.ok(!match[2].includes("=") && !match[3].includes("="), "unpadded base64");
});

Deno.test("Passwords.hash uses a fresh random salt for the same password", async () => {
  const hasher = fast();
  const [a, b] = await Promise.all([hasher.hash("password1"), hasher.hash("password1")]);
  assert.notEqual(a, b);
  assert.notEqual(PHC.exec(a)![2], PHC.exec(b)![2]);
});

Deno.test("Passwords.hash is PBKDF2-HMAC-SHA256 (matches node:crypto pbkdf2Sync)", async () => {
  const stored = await fast().hash("pässwörd 1");
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

Deno.test("Passwords.verify accepts a hash built independently with node:crypto", async () => {
  const salt = new Uint8Array(16).fill(7);
  const hash = pbkdf2Sync("password1", salt, 2000, 32, "sha256");
  const stored = `$pbkdf2-sha256$i=2000$${salt.toBase64({ omitPadding: true })}$${
    new Uint8Array(hash).toBase64({ omitPadding: true })
  }`;
  const check = await fast(2000).verify("password1", stored);
  assert.deepEqual(check, { ok: true, needsRehash: false });
});

Deno.test("Passwords.verify accepts the right password", async () => {
  const hasher = fast();
  const check = await hasher.verify("password1", await hasher.hash("password1"));
  assert.deepEqual(check, { ok: true, needsRehash: false });
});

Deno.test("Passwords.verify rejects a wrong password", async () => {
  const hasher = fast();
  const stored = await hasher.hash("password1");
  for (const wrong of ["password2", "Password1", "password1 ", "", "password"]) {
    assert.deepEqual(await hasher.verify(wrong, stored), { ok: false, needsRehash: false });
  }
});

Deno.test("Passwords.verify refuses, without running PBKDF2, any string that is not exactly a hash it makes", async () => {
  const hasher = fast();
  const good = await hasher.hash("password1");
  const [, , salt, hash] = PHC.exec(good)!;
  const saltBytes = Uint8Array.fromBase64(salt);
  const hashBytes = Uint8Array.fromBase64(hash);
  const malformed = [
    "",
    "password1",
    "$pbkdf2-sha256$",
    `$pbkdf2-sha512$i=${FAST}$${salt}$${hash}`,
    `$pbkdf2-sha256$i=$${salt}$${hash}`,
    `$pbkdf2-sha256$i=-5$${salt}$${hash}`,
    `$pbkdf2-sha256$i=abc$${salt}$${hash}`,
    `$pbkdf2-sha256$i=0$${salt}$${hash}`,
    `$pbkdf2-sha256$i=0${FAST}$${salt}$${hash}`, // a leading zero
    `$pbkdf2-sha256$i=${FAST}$$${hash}`,
    `$pbkdf2-sha256$i=${FAST}$${salt}$`,
    `$pbkdf2-sha256$i=${FAST}$${salt}$${hash}$extra`,
    `$pbkdf2-sha256$i=${FAST}$${salt}!$${hash}`,
    `$pbkdf2-sha256$i=${FAST}$${salt}==$${hash}`, // padded
    `$pbkdf2-sha256$i=${FAST}$A$${hash}`,
    `$pbkdf2-sha256$i=${FAST}$${salt}$A`,
    `$pbkdf2-sha256$i=${FAST}$${salt}$AAAAA`,
    // A digest of 1, 31 or 33 bytes, a salt of 15 or 17: a short digest let wrong passwords in.
    phc(FAST, saltBytes, hashBytes.subarray(0, 1)),
    phc(FAST, saltBytes, hashBytes.subarray(0, 31)),
    phc(FAST, saltBytes, new Uint8Array([...hashBytes, 0])),
    phc(FAST, saltBytes.subarray(0, 15), hashBytes),
    phc(FAST, new Uint8Array([...saltBytes, 0]), hashBytes),
    // Below the floor, or above the ceiling (a planted count that would stall every login).
    phc(FLOOR - 1, saltBytes, hashBytes),
    phc(1, saltBytes, hashBytes),
    phc(MAX_PBKDF2_ITERATIONS + 1, saltBytes, hashBytes),
    phc(100_000_000, saltBytes, hashBytes),
    phc("99999999999", saltBytes, hashBytes),
    phc("9".repeat(400), saltBytes, hashBytes),
    ` ${good}`,
    `${good}\n`,
  ];
  for (const stored of malformed) {
    const started = performance.now();
    const check = await hasher.verify("password1", stored).catch((error) => {
      assert.fail(`verify threw for ${JSON.stringify(stored)}: ${error}`);
    });
    assert.equal(check.ok, false, JSON.stringify(stored));
    assert.equal(check.needsRehash, false);
    assert.equal(typeof check.unusable, "string", JSON.stringify(stored));
    assert.ok(!check.unusable!.includes("password1"));
    // 100 M iterations took about 16 s; refusing must not compute them (a loose bound).
    assert.ok(performance.now() - started < 1000, `took long for ${stored.slice(0, 40)}`);
  }
});

Deno.test("Passwords.verify accepts counts from the floor to the ceiling and production's floor by default", async () => {
  const salt = new Uint8Array(16).fill(1);
  const atFloor = phc(FLOOR, salt, new Uint8Array(pbkdf2Sync("pw", salt, FLOOR, 32, "sha256")));
  assert.deepEqual(await fast().verify("pw", atFloor), { ok: true, needsRehash: true });
  const production = new Passwords();
  const check = await production.verify("pw", atFloor);
  assert.equal(check.ok, false, "below MIN_PBKDF2_ITERATIONS for a default hasher");
  assert.match(check.unusable!, /iteration count 100 outside 600000 to 10000000/);
});

Deno.test("Passwords.verify asks for a rehash when stored iterations are below current", async () => {
  const stored = await fast().hash("password1");
  const stronger = fast(FAST * 2);
  assert.deepEqual(await stronger.verify("password1", stored), { ok: true, needsRehash: true });
  assert.deepEqual(await stronger.verify("wrong-password", stored), {
    ok: false,
    needsRehash: false,
  });
  const weaker = fast(FAST / 2);
  assert.deepEqual(await weaker.verify("password1", stored), { ok: true, needsRehash: false });
});

Deno.test("Passwords.prepare makes the dummy hash with the count most stored hashes have", async () => {
  assert.equal(await dummyIterations(fast()), FAST, "the current count without stored hashes");
  const common = fast();
  await common.prepare(new Map([[FAST, 1], [3000, 5], [2000, 2]]));
  assert.equal(await dummyIterations(common), 3000);
  await common.prepare(new Map([[FAST, 9]]));
  assert.equal(await dummyIterations(common), 3000, "the first call decides");
  const tie = fast();
  await tie.prepare(Promise.resolve(new Map([[2000, 3], [4000, 3]])));
  assert.equal(await dummyIterations(tie), 4000, "the dearer count on a tie");
  const outside = fast();
  await outside.prepare(new Map([[FLOOR - 1, 50], [MAX_PBKDF2_ITERATIONS + 1, 50], [2000, 1]]));
  assert.equal(await dummyIterations(outside), 2000, "counts that cannot be checked are ignored");
});

Deno.test("Passwords.verifyDummy resolves for any password", async () => {
  const hasher = fast();
  assert.equal(await hasher.verifyDummy("password1"), undefined);
  assert.equal(await hasher.verifyDummy(""), undefined);
});
