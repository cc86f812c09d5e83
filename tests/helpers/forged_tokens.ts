/**
 * Access tokens made by hand, as an attacker would make them: JWS segments of any shape, signed
 * with ES256 or HMAC whatever the header says, and the assertions of how GET /hello answers them.
 * {@linkcode forgeryKit} gathers what a forger can learn from one real token and the server's
 * store; {@linkcode assertForgeriesRefused} sends a list of forgeries between two controls.
 *
 * @module
 */
import assert from "node:assert/strict";
import { importJWK, SignJWT } from "jose";
import { ACCESS_TOKEN_TYPE } from "../../src/auth/tokens/access_tokens.ts";
import { unixNow } from "../../src/clock.ts";
import type { SigningKeyRecord } from "../../src/store/tokens.ts";
import { hello, loginToken, startTestServer, type TestServer } from "./server.ts";

const encoder = new TextEncoder();

/** A JOSE header or a claims set, with any member types an attacker likes. */
export type Json = Record<string, unknown>;

/** The users of every forgery test: the real tokens are user1's. */
export const FORGERY_USERS = { user1: "password1" };

/** Bytes as unpadded base64url. */
export function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** UTF-8 bytes of `text`, as an HMAC secret or a signing input. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** A JSON value as one JWS segment. */
export function segment(value: Json): string {
  return b64url(utf8(JSON.stringify(value)));
}

/** One JWS segment read back as JSON. */
export function decodeSegment(part: string): Json {
  return JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(part, { alphabet: "base64url" })),
  );
}

/** The decoded header of `token`. */
export function headerOf(token: string): Json {
  return decodeSegment(token.split(".")[0]);
}

/** Signs `header.payload` with ECDSA P-256 (r||s, as JWS wants), whatever the header says. */
export async function signEs256(header: Json, payload: Json, key: CryptoKey): Promise<string> {
  const input = `${segment(header)}.${segment(payload)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key,
    utf8(input),
  );
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** Signs `header.payload` with HMAC over `secret`, whatever the header says. */
export async function signHmac(
  header: Json,
  payload: Json,
  secret: Uint8Array<ArrayBuffer>,
  hash: "SHA-256" | "SHA-512",
): Promise<string> {
  const input = `${segment(header)}.${segment(payload)}`;
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash }, false, ["sign"]);
  const signature = await crypto.subtle.sign("HMAC", key, utf8(input));
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/** DER bytes as PEM with the given label. */
export function pem(label: string, der: ArrayBuffer): string {
  const lines = new Uint8Array(der).toBase64().match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

/**
 * Fresh claims the server accepts for user1, with the `iss`, `aud`, `sub` and name of a token it
 * issued.
 */
export function goodClaims(issued: string, overrides: Json = {}): Json {
  const { iss, aud, sub, preferred_username } = decodeSegment(issued.split(".")[1]);
  return freshClaims({ iss, aud, sub, preferred_username, ...overrides });
}

/**
 * Claims the server accepts once `iss`, `aud` and the user's `sub` and `preferred_username` are
 * added: issued now, for 10 minutes.
 */
function freshClaims(claims: Json): Json {
  const now = unixNow();
  return {
    iat: now,
    nbf: now,
    exp: now + 600,
    jti: crypto.randomUUID(),
    scope: "hello",
    ...claims,
  };
}

/** The server's current signing key: its record in the store and its private half. */
export async function currentSigningKey(
  server: TestServer,
): Promise<{ record: SigningKeyRecord; privateKey: CryptoKey }> {
  const [record] = await server.store.listSigningKeys(unixNow());
  const privateJwk = await server.store.currentPrivateJwk(record.kid);
  assert.ok(privateJwk, "the current key keeps its private half");
  const privateKey = await importJWK(JSON.parse(privateJwk), record.alg) as CryptoKey;
  return { record, privateKey };
}

/** A valid token for user1 that this server has never seen: signed here with its current key. */
export async function unseenValidToken(server: TestServer): Promise<string> {
  const { record, privateKey } = await currentSigningKey(server);
  const user = await server.store.getUser("user1");
  assert.ok(user, "user1 exists");
  const claims = freshClaims({
    iss: server.config.issuer,
    aud: server.config.audience,
    sub: user.subject,
    preferred_username: user.username,
  });
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: record.alg, kid: record.kid, typ: ACCESS_TOKEN_TYPE })
    .sign(privateKey);
}

/** `claims` without the member `name`. */
export function without(claims: Json, name: string): Json {
  const copy = { ...claims };
  delete copy[name];
  return copy;
}

/** A base64url segment with its first byte inverted and the last one's low bit flipped. */
export function flip(text: string): string {
  const bytes = Uint8Array.fromBase64(text, { alphabet: "base64url" });
  bytes[0] ^= 0xff;
  bytes[bytes.length - 1] ^= 0x01;
  return b64url(bytes);
}

/** Asserts that GET /hello refuses `token` as an RFC 6750 invalid_token with a JSON `msg` (this one, when given). */
export async function assertRefused(
  server: TestServer,
  token: string,
  msg?: string,
): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, 401, `expected 401, got ${res.status} ${JSON.stringify(body)}`);
  assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(typeof body.msg, "string");
  assert.notEqual(body.msg, "");
  if (msg !== undefined) assert.equal(body.msg, msg);
  assert.deepEqual(Object.keys(body), ["msg"]);
}

/** Asserts that GET /hello greets user1 with `token`. */
export async function assertAccepted(server: TestServer, token: string): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, 200, `expected 200, got ${res.status} ${JSON.stringify(body)}`);
  assert.deepEqual(body, { message: "Hello, user1! You're authenticated." });
}

/** Asserts that the server answered requests, none with a 5xx, and logged no error. */
export function assertNoServerErrors(server: TestServer): void {
  const requests = server.logs.filter((line) => line.msg === "request");
  assert.ok(requests.length > 0);
  for (const line of requests) assert.ok((line.status as number) < 500, JSON.stringify(line));
  assert.deepEqual(server.logs.filter((line) => line.level === "error"), []);
}

/**
 * A server for forgeries: user1, and an invalid-token budget (tested in
 * invalid_token_budget_test.ts) above the number of forgeries one test sends from its address,
 * so that every forgery reaches the checks.
 */
export function startForgeryTarget(): Promise<TestServer> {
  return startTestServer({
    users: FORGERY_USERS,
    env: { INVALID_TOKEN_BUDGET_PER_MINUTE: "1000" },
  });
}

/** What a forger works from: one real ES256 token, its parts, and the server's current key. */
export interface ForgeryKit {
  /** An access token the server issued through /login. */
  real: string;
  realHeader: string;
  realPayload: string;
  realSignature: string;
  /** The real token's decoded header. */
  header: Json;
  kid: string;
  /** The signing key's record in the store, with its public JWK. */
  record: SigningKeyRecord;
  /** The server's own private key, to sign what it would never issue. */
  privateKey: CryptoKey;
  /** A header as the server writes it. */
  es256: Json;
  /** Claims the server accepts, from {@linkcode goodClaims}. */
  claims: Json;
  /** The time the kit was made, Unix seconds. */
  now: number;
}

/** Logs in as user1 and gathers the {@linkcode ForgeryKit} of the server's current key. */
export async function forgeryKit(server: TestServer): Promise<ForgeryKit> {
  const real = await loginToken(server);
  const [realHeader, realPayload, realSignature] = real.split(".");
  const header = decodeSegment(realHeader);
  const kid = header.kid as string;
  const { record, privateKey } = await currentSigningKey(server);
  assert.equal(record.kid, kid);
  assert.equal(header.alg, "ES256");
  return {
    real,
    realHeader,
    realPayload,
    realSignature,
    header,
    kid,
    record,
    privateKey,
    es256: { alg: "ES256", kid, typ: "at+jwt" },
    claims: goodClaims(real),
    now: unixNow(),
  };
}

/** One forged token and the `msg` the server must refuse it with. */
export interface Forgery {
  name: string;
  msg: string;
  forge: () => Promise<string> | string;
}

/**
 * Sends every forgery as its own step, each refused with its `msg`, between two controls that
 * the real token is accepted, and checks that nothing answered 5xx or logged an error.
 */
export async function assertForgeriesRefused(
  t: Deno.TestContext,
  server: TestServer,
  { real, forgeries }: { real: string; forgeries: readonly Forgery[] },
): Promise<void> {
  await t.step("control: the real token from /login is accepted", async () => {
    await assertAccepted(server, real);
  });
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
}
