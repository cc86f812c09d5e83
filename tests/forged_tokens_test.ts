import assert from "node:assert/strict";
import { importJWK, type JWK } from "jose";
import { generateSigningKey } from "../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../src/clock.ts";
import { generateCertificate } from "../src/certs/generate.ts";
import { hello, jwksKids, login, startTestServer, type TestServer } from "./helpers/server.ts";
import { waitFor } from "./helpers/wait.ts";

const USERS = { user1: "password1" };
const encoder = new TextEncoder();

/** A JOSE header or a claims set, with any member types an attacker likes. */
type Json = Record<string, unknown>;

function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function segment(value: Json): string {
  return b64url(encoder.encode(JSON.stringify(value)));
}

function decodeSegment(part: string): Json {
  return JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(part, { alphabet: "base64url" })),
  );
}

/** Signs `header.payload` with ECDSA P-256 (r||s, as JWS wants), whatever the header says. */
async function signEs256(header: Json, payload: Json, key: CryptoKey): Promise<string> {
  const input = `${segment(header)}.${segment(payload)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    encoder.encode(input),
  );
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** Signs `header.payload` with HMAC over `secret`, whatever the header says. */
async function signHmac(
  header: Json,
  payload: Json,
  secret: Uint8Array<ArrayBuffer>,
  hash: "SHA-256" | "SHA-512",
): Promise<string> {
  const input = `${segment(header)}.${segment(payload)}`;
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash }, false, ["sign"]);
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(input));
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

function pem(label: string, der: ArrayBuffer): string {
  const lines = new Uint8Array(der).toBase64().match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

/**
 * Fresh claims the server accepts for user1, with the `iss`, `aud`, `sub` and name of a token it
 * issued.
 */
function goodClaims(issued: string, overrides: Json = {}): Json {
  const { iss, aud, sub, preferred_username } = decodeSegment(issued.split(".")[1]);
  const now = unixNow();
  return {
    iss,
    aud,
    sub,
    preferred_username,
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
    scope: "hello",
    ...overrides,
  };
}

function without(claims: Json, name: string): Json {
  const copy = { ...claims };
  delete copy[name];
  return copy;
}

async function loginToken(server: TestServer): Promise<string> {
  const { res, body } = await login(server, "user1", "password1");
  assert.equal(res.status, 200);
  assert.equal(typeof body.access_token, "string");
  return body.access_token as string;
}

/** Asserts that GET /hello refuses `token` as an RFC 6750 invalid_token with a JSON `msg` (this one, when given). */
async function assertRefused(server: TestServer, token: string, msg?: string): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, 401, `expected 401, got ${res.status} ${JSON.stringify(body)}`);
  assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(typeof body.msg, "string");
  assert.notEqual(body.msg, "");
  if (msg !== undefined) assert.equal(body.msg, msg);
  assert.deepEqual(Object.keys(body), ["msg"]);
}

async function assertAccepted(server: TestServer, token: string): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, 200, `expected 200, got ${res.status} ${JSON.stringify(body)}`);
  assert.deepEqual(body, { message: "Hello, user1! You're authenticated." });
}

function assertNoServerErrors(server: TestServer): void {
  const requests = server.logs.filter((line) => line.msg === "request");
  assert.ok(requests.length > 0);
  for (const line of requests) assert.ok((line.status as number) < 500, JSON.stringify(line));
  assert.deepEqual(server.logs.filter((line) => line.level === "error"), []);
}

Deno.test("GET /hello answers 401 invalid_token to every forged or invalid ES256 token", async (t) => {
  // Every forgery must reach the checks, so the invalid-token budget (tested in
  // invalid_token_budget_test.ts) is set above the number of forgeries sent from this address.
  await using server = await startTestServer({
    users: USERS,
    env: { INVALID_TOKEN_BUDGET_PER_MINUTE: "1000" },
  });
  const real = await loginToken(server);
  const [realHeader, realPayload, realSignature] = real.split(".");
  const header = decodeSegment(realHeader);
  const kid = header.kid as string;
  const [record] = await server.store.listSigningKeys(unixNow());
  assert.equal(record.kid, kid);
  assert.equal(header.alg, "ES256");
  const privateJwk = (await server.store.currentPrivateJwk(record.kid))!;
  const privateKey = await importJWK(JSON.parse(privateJwk), "ES256") as CryptoKey;
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

  const es256 = { alg: "ES256", kid, typ: "at+jwt" };
  const claims = goodClaims(real);
  const now = unixNow();
  const flip = (text: string) => {
    const bytes = Uint8Array.fromBase64(text, { alphabet: "base64url" });
    bytes[0] ^= 0xff;
    bytes[bytes.length - 1] ^= 0x01;
    return b64url(bytes);
  };

  await t.step("control: the real token from /login is accepted", async () => {
    await assertAccepted(server, real);
  });
  await t.step(
    "control: a token built by this suite's signer with the real key is accepted",
    async () => {
      await assertAccepted(server, await signEs256(es256, claims, privateKey));
    },
  );
  await t.step(
    "control: an iat within the leeway ahead and the full configured lifetime are accepted",
    async () => {
      const edge = { ...claims, iat: now + 25, nbf: now, exp: now + 25 + 900 };
      await assertAccepted(server, await signEs256(es256, edge, privateKey));
    },
  );

  const MALFORMED = "Malformed token";
  const ALG = "Unexpected token algorithm";
  const UNKNOWN_KEY = "Unknown signing key";
  const SIGNATURE = "Signature verification failed";
  const claim = (name: string) => `Invalid "${name}" claim`;

  /** Each forgery with the reason the server must give (its `msg`). */
  const forgeries: { name: string; msg: string; forge: () => Promise<string> | string }[] = [
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
        signHmac({ ...es256, alg: "HS256" }, claims, encoder.encode(record.publicJwk), "SHA-256"),
    },
    {
      name: "alg HS256 signed with the public JWK re-serialized as {crv, kty, x, y}",
      msg: ALG,
      forge: () =>
        signHmac(
          { ...es256, alg: "HS256" },
          claims,
          encoder.encode(
            JSON.stringify({ crv: "P-256", kty: "EC", x: publicJwk.x, y: publicJwk.y }),
          ),
          "SHA-256",
        ),
    },
    {
      name: "alg HS256 signed with the ES256 public key as SPKI PEM bytes (key confusion)",
      msg: ALG,
      forge: () => signHmac({ ...es256, alg: "HS256" }, claims, encoder.encode(spkiPem), "SHA-256"),
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
      name: "a tampered header (typ changed), original signature",
      msg: SIGNATURE,
      forge: () => `${segment({ ...header, typ: "JWT" })}.${realPayload}.${realSignature}`,
    },
    {
      name: "a tampered payload (sub admin), original signature",
      msg: SIGNATURE,
      forge: () =>
        `${realHeader}.${
          segment({ ...decodeSegment(realPayload), sub: "admin" })
        }.${realSignature}`,
    },
    {
      name: "a tampered signature (bits flipped)",
      msg: SIGNATURE,
      forge: () => `${realHeader}.${realPayload}.${flip(realSignature)}`,
    },
    {
      name: "a truncated signature",
      msg: SIGNATURE,
      forge: () => `${realHeader}.${realPayload}.${realSignature.slice(0, 40)}`,
    },
    {
      name: "an expired token (exp 120 s ago, past the 30 s leeway)",
      msg: "Token has expired",
      forge: () =>
        signEs256(
          es256,
          { ...claims, iat: now - 1000, nbf: now - 1000, exp: now - 120 },
          privateKey,
        ),
    },
    {
      name: "a token not yet valid (nbf an hour ahead)",
      msg: "Token is not yet valid",
      forge: () => signEs256(es256, { ...claims, nbf: now + 3600, exp: now + 7200 }, privateKey),
    },
    {
      name: "a wrong iss",
      msg: claim("iss"),
      forge: () => signEs256(es256, { ...claims, iss: "https://attacker.invalid" }, privateKey),
    },
    {
      name: "a wrong aud",
      msg: claim("aud"),
      forge: () =>
        signEs256(es256, { ...claims, aud: "https://other-service.invalid" }, privateKey),
    },
    {
      name: "typ JWT instead of at+jwt",
      msg: claim("typ"),
      forge: () => signEs256({ ...es256, typ: "JWT" }, claims, privateKey),
    },
    {
      name: "no typ",
      msg: claim("typ"),
      forge: () => signEs256({ alg: "ES256", kid }, claims, privateKey),
    },
    {
      name: "an unknown critical header parameter",
      msg: "Invalid token",
      forge: () =>
        signEs256({ ...es256, crit: ["x-attacker"], "x-attacker": true }, claims, privateKey),
    },
    ...["iss", "aud", "sub", "iat", "nbf", "exp", "jti"].map((name) => ({
      name: `the required claim ${name} missing`,
      msg: claim(name),
      forge: () => signEs256(es256, without(claims, name), privateKey),
    })),
    {
      name: "a numeric sub",
      msg: claim("sub"),
      forge: () => signEs256(es256, { ...claims, sub: 1 }, privateKey),
    },
    {
      name: "an empty sub",
      msg: claim("sub"),
      forge: () => signEs256(es256, { ...claims, sub: "" }, privateKey),
    },
    {
      name: "a numeric jti",
      msg: claim("jti"),
      forge: () => signEs256(es256, { ...claims, jti: 7 }, privateKey),
    },
    {
      name: "a scope that is an array",
      msg: claim("scope"),
      forge: () => signEs256(es256, { ...claims, scope: ["hello"] }, privateKey),
    },
    {
      name: "a scope that is an object",
      msg: claim("scope"),
      forge: () => signEs256(es256, { ...claims, scope: { hello: true } }, privateKey),
    },
    {
      name: "a preferred_username that is an object",
      msg: claim("preferred_username"),
      forge: () => signEs256(es256, { ...claims, preferred_username: { a: 1 } }, privateKey),
    },
    {
      name: "a sid that is a number",
      msg: claim("sid"),
      forge: () => signEs256(es256, { ...claims, sid: 42 }, privateKey),
    },
    {
      name: "a client_id that is null",
      msg: claim("client_id"),
      forge: () => signEs256(es256, { ...claims, client_id: null }, privateKey),
    },
    {
      name: "an iat that is a string",
      msg: claim("iat"),
      forge: () => signEs256(es256, { ...claims, iat: String(claims.iat) }, privateKey),
    },
    {
      name: "an iat beyond the leeway in the future",
      msg: claim("iat"),
      forge: () =>
        signEs256(es256, { ...claims, iat: now + 40, nbf: now, exp: now + 900 }, privateKey),
    },
    {
      name: "an iat and exp years ahead",
      msg: claim("iat"),
      forge: () =>
        signEs256(es256, {
          ...claims,
          iat: now + 3 * 365 * 86400,
          nbf: now,
          exp: now + 3 * 365 * 86400 + 900,
        }, privateKey),
    },
    {
      name: "an exp − iat longer than the configured lifetime",
      msg: claim("exp"),
      forge: () => signEs256(es256, { ...claims, iat: now, nbf: now, exp: now + 901 }, privateKey),
    },
    {
      name: "an exp ten years ahead",
      msg: claim("exp"),
      forge: () =>
        signEs256(es256, { ...claims, iat: now, exp: now + 10 * 365 * 86400 }, privateKey),
    },
    {
      name: "a token over 8 KiB, validly signed with a huge claim",
      msg: "Token is too large",
      forge: async () => {
        const token = await signEs256(es256, { ...claims, pad: "x".repeat(9000) }, privateKey);
        assert.ok(token.length > 8192);
        return token;
      },
    },
    {
      name: "characters outside base64url (+ and /)",
      msg: MALFORMED,
      forge: () =>
        `${realHeader}.${realPayload.slice(0, 10)}+/${realPayload.slice(12)}.${realSignature}`,
    },
    {
      name: "characters outside base64url and token68 (* and !)",
      msg: MALFORMED,
      forge: () =>
        `${realHeader}.${realPayload.slice(0, 10)}*!${realPayload.slice(12)}.${realSignature}`,
    },
    {
      name: "base64 padding",
      msg: MALFORMED,
      forge: () => `${realHeader}.${realPayload}.${realSignature}==`,
    },
    { name: "two segments", msg: MALFORMED, forge: () => `${realHeader}.${realPayload}` },
    { name: "four segments", msg: MALFORMED, forge: () => `${real}.${realSignature}` },
    {
      name: "five segments (JWE shape)",
      msg: MALFORMED,
      forge: () => `${realHeader}.${realPayload}.x.y.${realSignature}`,
    },
    {
      name: "an empty string",
      msg: 'Authorization header must be "Bearer <token>"',
      forge: () => "",
    },
    {
      name: "a header that is not JSON",
      msg: MALFORMED,
      forge: () => `${b64url(encoder.encode("not json"))}.${realPayload}.${realSignature}`,
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
        signEs256({ alg: "ES256", typ: "at+jwt", x5c: [attackerCertDer] }, claims, attackerCertKey),
    },
    {
      name: "an x5u header to attacker.invalid, signed by the attacker",
      msg: SIGNATURE,
      forge: () =>
        signEs256({ ...es256, x5u: "https://attacker.invalid/cert.pem" }, claims, attackerCertKey),
    },
  ];

  for (const { name, msg, forge } of forgeries) {
    await t.step(`refuses ${name}`, async () => {
      await assertRefused(server, await forge(), msg);
    });
  }

  await t.step("control: the real token is still accepted after the forgeries", async () => {
    await assertAccepted(server, real);
  });
  await t.step("no request answered 5xx and nothing was logged as an error", () => {
    assertNoServerErrors(server);
  });
});

Deno.test("GET /hello with JWT_SECRET set refuses ES256 tokens and HS512 tokens", async () => {
  const secret = b64url(crypto.getRandomValues(new Uint8Array(30)));
  assert.equal(secret.length, 40);
  const PUBLIC_URL = "https://auth.example.com";
  await using server = await startTestServer({
    users: USERS,
    env: { JWT_SECRET: secret, PUBLIC_URL },
  });
  await using other = await startTestServer({ users: USERS, env: { PUBLIC_URL } });
  const real = await loginToken(server);
  const header = decodeSegment(real.split(".")[0]);
  assert.equal(header.alg, "HS256");
  const kid = header.kid as string;
  const claims = goodClaims(real);
  const key = encoder.encode(secret);

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

Deno.test("after a key rotation new tokens carry the new kid and old tokens verify until retireAt", async () => {
  await using server = await startTestServer({ users: USERS });
  const before = await loginToken(server);
  const oldKid = decodeSegment(before.split(".")[0]).kid;
  await assertAccepted(server, before);

  const now = unixNow();
  const next = await generateSigningKey(now);
  await server.store.rotateSigningKey(next, now + 60, now);
  await waitFor(
    "the server to re-read its signing keys",
    async () => (await jwksKids(server)).includes(next.kid),
  );

  const after = await loginToken(server);
  const newKid = decodeSegment(after.split(".")[0]).kid;
  assert.equal(newKid, next.kid);
  assert.notEqual(newKid, oldKid);
  await assertAccepted(server, after);
  await assertAccepted(server, before);
});

Deno.test("a token whose signing key has retired is refused even when it was verified before", async () => {
  await using server = await startTestServer({ users: USERS });
  const token = await loginToken(server);
  await assertAccepted(server, token);
  assert.ok(server.running.tokens.cachedCount > 0);

  const oldKid = decodeSegment(token.split(".")[0]).kid;
  const now = unixNow();
  const next = await generateSigningKey(now);
  await server.store.rotateSigningKey(next, now, now);
  await waitFor("the server to re-read its signing keys", async () => {
    const kids = await jwksKids(server);
    return kids.includes(next.kid) && !kids.includes(oldKid as string);
  });

  await assertRefused(server, token, "Unknown signing key");
  await assertAccepted(server, await loginToken(server));
});
