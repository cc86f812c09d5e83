/**
 * @module
 * The digests secrets are stored and compared as (src/auth/secrets.ts): SHA-256 against its FIPS
 * 180-2 test vector and as Web Crypto computed it, so stored digests still match, and the
 * constant-time comparison of digests of equal and of other lengths.
 */
import assert from "node:assert/strict";
import { digestsEqual, sha256, sha256Hex } from "../src/auth/secrets.ts";

/** Texts whose UTF-8 needs care: multi-byte characters, lone surrogates, nothing at all. */
const TEXTS = ["abc", "", "é€😀", "\ud800x", "x\udfff", "q7+Zb/0Fh9Lx+Yt/3Wc=Pn8Ru+Kd/Vs2Jm=="];

async function webCryptoHex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest).toHex();
}

Deno.test("sha256Hex gives the FIPS 180-2 digest of abc", async () => {
  assert.equal(
    await sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("sha256Hex and sha256 hash as Web Crypto of the UTF-8 did, so stored digests still match", async () => {
  for (const text of TEXTS) {
    const expected = await webCryptoHex(text);
    assert.equal(await sha256Hex(text), expected, JSON.stringify(text));
    assert.equal(sha256(text).toHex(), expected, JSON.stringify(text));
    assert.equal(sha256(new TextEncoder().encode(text)).toHex(), expected, JSON.stringify(text));
  }
});

Deno.test("digestsEqual tells equal digests from different ones and from other lengths", async () => {
  const digest = await sha256Hex("secret");
  assert.equal(digestsEqual(digest, await sha256Hex("secret")), true);
  assert.equal(digestsEqual(digest, await sha256Hex("secreT")), false);
  assert.equal(digestsEqual(digest, digest.slice(0, -1)), false);
});
