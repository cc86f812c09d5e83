/**
 * @module
 * Forged access tokens that lie about their algorithm or their key: alg none, HMAC keyed with the
 * public key, kid injections, critical headers and keys the token brings along (jku, jwk, x5c,
 * x5u). Each is refused by GET /hello with the reason; so are foreign tokens when JWT_SECRET is
 * set. Forged claims and malformed tokens have their own files.
 */
import assert from "node:assert/strict";
import { importJWK, type JWK } from "jose";
import { unixNow } from "../src/clock.ts";
import { generateCertificate } from "../src/certs/generate.ts";
import {
  assertAccepted,
  assertForgeriesRefused,
  assertNoServerErrors,
  assertRefused,
  b64url,
  FORGERY_USERS,
  forgeryKit,
  goodClaims,
  headerOf,
  pem,
  segment,
  signEs256,
  signHmac,
  startForgeryTarget,
  utf8,
} from "./helpers/forged_tokens.ts";
import { loginToken, startTestServer } from "./helpers/server.ts";

const MALFORMED = "Malformed token";
const ALG = "Unexpected token algorithm";
const UNKNOWN_KEY = "Unknown signing key";
const SIGNATURE = "Signature verification failed";

Deno.test("GET /hello answers 401 invalid_token to ES256 tokens forged in their algorithm or key", async (t) => {
  await using server = await startForgeryTarget();
  const kit = await forgeryKit(server);
  const { header, realPayload, realSignature, kid, record, privateKey, es256, claims } = kit;
  const publicJwk = JSON.parse(record.publicJwk) as JWK;
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y },
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["verify"],
  );
  const spkiPem = pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", publicKey));
  const attacker = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const attackerJwk = await crypto.subtle.exportKey("jwk", attacker.publicKey);
  const attackerPublicJwk = { kty: "EC", crv: "P-256", x: attackerJwk.x, y: attackerJwk.y };
  const attackerCert = await generateCertificate({ keyType: "ecdsa", commonName: "attacker" });
  const attackerCertKey = await crypto.subtle.importKey(
    "pkcs8",
    Uint8Array.fromBase64(attackerCert.keyPem.replace(/-----[^-]+-----|\s/g, "")),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  const attackerCertDer = attackerCert.certPem.replace(/-----[^-]+-----|\s/g, "");

  await t.step(
    "control: a token built by this suite's signer with the real key is accepted",
    async () => {
      await assertAccepted(server, await signEs256(es256, claims, privateKey));
    },
  );
  await assertForgeriesRefused(t, server, {
    real: kit.real,
    forgeries: [
      {
        name: "alg none with an empty signature",
        msg: MALFORMED,
        forge: () => `${segment({ ...header, alg: "none" })}.${realPayload}.`,
      },
      {
        name: "alg none keeping the original signature",
        msg: ALG,
        forge: () => `${segment({ ...header, alg: "none" })}.${realPayload}.${realSignature}`,
      },
      {
        name: "alg none without kid or typ",
        msg: MALFORMED,
        forge: () => `${segment({ alg: "none" })}.${realPayload}.`,
      },
      {
        name: "alg HS256 signed with the ES256 public key as JWK JSON bytes (key confusion)",
        msg: ALG,
        forge: () =>
          signHmac({ ...es256, alg: "HS256" }, claims, utf8(record.publicJwk), "SHA-256"),
      },
      {
        name: "alg HS256 signed with the public JWK re-serialized as {crv, kty, x, y}",
        msg: ALG,
        forge: () =>
          signHmac(
            { ...es256, alg: "HS256" },
            claims,
            utf8(
              JSON.stringify({ crv: "P-256", kty: "EC", x: publicJwk.x, y: publicJwk.y }),
            ),
            "SHA-256",
          ),
      },
      {
        name: "alg HS256 signed with the ES256 public key as SPKI PEM bytes (key confusion)",
        msg: ALG,
        forge: () => signHmac({ ...es256, alg: "HS256" }, claims, utf8(spkiPem), "SHA-256"),
      },
      {
        name: "an unknown kid, signed with the real key",
        msg: UNKNOWN_KEY,
        forge: () => signEs256({ ...es256, kid: "unknown-key-id" }, claims, privateKey),
      },
      {
        name: "kid ../../dev/null",
        msg: UNKNOWN_KEY,
        forge: () => signEs256({ ...es256, kid: "../../dev/null" }, claims, privateKey),
      },
      {
        name: "kid with SQL quote injection",
        msg: UNKNOWN_KEY,
        forge: () => signEs256({ ...es256, kid: "' OR '1'='1" }, claims, privateKey),
      },
      {
        name: "kid with a DROP TABLE injection",
        msg: UNKNOWN_KEY,
        forge: () =>
          signEs256({ ...es256, kid: '"; DROP TABLE signing_keys; --' }, claims, privateKey),
      },
      {
        name: "an empty kid",
        msg: UNKNOWN_KEY,
        forge: () => signEs256({ ...es256, kid: "" }, claims, privateKey),
      },
      {
        name: "a numeric kid",
        msg: UNKNOWN_KEY,
        forge: () => signEs256({ ...es256, kid: 1 }, claims, privateKey),
      },
      {
        name: "a kid that is an array holding the real kid",
        msg: UNKNOWN_KEY,
        forge: () => signEs256({ ...es256, kid: [kid] }, claims, privateKey),
      },
      {
        name: "a missing kid, signed with the real key",
        msg: UNKNOWN_KEY,
        forge: () => signEs256({ alg: "ES256", typ: "at+jwt" }, claims, privateKey),
      },
      {
        name: "an unknown critical header parameter",
        msg: "Invalid token",
        forge: () =>
          signEs256({ ...es256, crit: ["x-attacker"], "x-attacker": true }, claims, privateKey),
      },
      {
        name: "a jku header to attacker.invalid, signed by the attacker, with the real kid",
        msg: SIGNATURE,
        forge: () =>
          signEs256(
            { ...es256, jku: "https://attacker.invalid/jwks.json" },
            claims,
            attacker.privateKey,
          ),
      },
      {
        name: "a jwk header with the attacker's key, signed by the attacker, with the real kid",
        msg: SIGNATURE,
        forge: () => signEs256({ ...es256, jwk: attackerPublicJwk }, claims, attacker.privateKey),
      },
      {
        name: "a jwk header with the attacker's key, signed by the attacker, without kid",
        msg: UNKNOWN_KEY,
        forge: () =>
          signEs256(
            { alg: "ES256", typ: "at+jwt", jwk: attackerPublicJwk },
            claims,
            attacker.privateKey,
          ),
      },
      {
        name: "an x5c header with the attacker's certificate, signed by the attacker",
        msg: SIGNATURE,
        forge: () => signEs256({ ...es256, x5c: [attackerCertDer] }, claims, attackerCertKey),
      },
      {
        name: "an x5c header with the attacker's certificate, without kid",
        msg: UNKNOWN_KEY,
        forge: () =>
          signEs256(
            { alg: "ES256", typ: "at+jwt", x5c: [attackerCertDer] },
            claims,
            attackerCertKey,
          ),
      },
      {
        name: "an x5u header to attacker.invalid, signed by the attacker",
        msg: SIGNATURE,
        forge: () =>
          signEs256(
            { ...es256, x5u: "https://attacker.invalid/cert.pem" },
            claims,
            attackerCertKey,
          ),
      },
    ],
  });
});

Deno.test("GET /hello with JWT_SECRET set refuses ES256 tokens and HS512 tokens", async () => {
  const secret = b64url(crypto.getRandomValues(new Uint8Array(30)));
  assert.equal(secret.length, 40);
  const PUBLIC_URL = "https://auth.example.com";
  await using server = await startTestServer({
    users: FORGERY_USERS,
    env: { JWT_SECRET: secret, PUBLIC_URL },
  });
  await using other = await startTestServer({ users: FORGERY_USERS, env: { PUBLIC_URL } });
  const real = await loginToken(server);
  const header = headerOf(real);
  assert.equal(header.alg, "HS256");
  const kid = header.kid as string;
  const claims = goodClaims(real);
  const key = utf8(secret);

  await assertAccepted(server, real);
  // Control: this suite's HMAC signer makes tokens the server accepts with the right alg.
  await assertAccepted(
    server,
    await signHmac({ alg: "HS256", kid, typ: "at+jwt" }, claims, key, "SHA-256"),
  );

  // A genuine ES256 token issued by another server (same issuer and audience).
  const foreign = await loginToken(other);
  assert.deepEqual(goodClaims(foreign).iss, claims.iss);
  assert.deepEqual(goodClaims(foreign).aud, claims.aud);
  await assertAccepted(other, foreign);
  await assertRefused(server, foreign);

  // ES256 tokens that name the server's HS256 kid.
  const [otherRecord] = await other.store.listSigningKeys(unixNow());
  const otherJwk = (await other.store.currentPrivateJwk(otherRecord.kid))!;
  const otherKey = await importJWK(JSON.parse(otherJwk), "ES256") as CryptoKey;
  await assertRefused(
    server,
    await signEs256({ alg: "ES256", kid, typ: "at+jwt" }, claims, otherKey),
  );

  // Same secret, but HS512.
  await assertRefused(
    server,
    await signHmac({ alg: "HS512", kid, typ: "at+jwt" }, claims, key, "SHA-512"),
  );
  await assertRefused(
    server,
    await signHmac({ alg: "HS512", typ: "at+jwt" }, claims, key, "SHA-512"),
  );
  // Same secret, HS256, but no kid.
  await assertRefused(
    server,
    await signHmac({ alg: "HS256", typ: "at+jwt" }, claims, key, "SHA-256"),
  );
  // alg none with the HS256 kid.
  await assertRefused(
    server,
    `${segment({ alg: "none", kid, typ: "at+jwt" })}.${segment(claims)}.`,
  );
  assertNoServerErrors(server);
});
