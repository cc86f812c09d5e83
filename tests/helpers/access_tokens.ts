/**
 * Access-token services for unit tests: an ES256 or HS256 key ring in a fresh in-memory store
 * with two services on it (one that issues, one that has seen nothing yet), claims valid as of
 * now, tokens signed by hand, and the one assertion of an `invalid_token` refusal. It starts no
 * server and touches no file.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type JWTPayload, SignJWT } from "jose";
import { SigningKeys } from "../../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../../src/clock.ts";
import {
  ACCESS_TOKEN_TYPE,
  type AccessTokenOptions,
  AccessTokens,
} from "../../src/auth/tokens/access_tokens.ts";
import { AuthFailure } from "../../src/auth/errors.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";

/** The issuer the services name. */
export const ISSUER = "https://issuer.test";
/** The audience the services name. */
export const AUDIENCE = "https://api.test";
/** The services' options unless a test overrides some. */
export const OPTIONS: AccessTokenOptions = {
  issuer: ISSUER,
  audience: AUDIENCE,
  ttlSeconds: 900,
  leewaySeconds: 30,
  maxTokenBytes: 8192,
};
const SECRET = "x".repeat(32);

/** A store, its key ring and two token services on them; disposing closes them. */
export interface Fixture extends AsyncDisposable {
  store: SqliteStore;
  keys: SigningKeys;
  tokens: AccessTokens;
  /** Another service on the same keys, as on another instance: it has seen no token yet. */
  verifier: AccessTokens;
}

/** A token service on an ES256 key ring in a fresh in-memory store. */
export async function es256(options: Partial<AccessTokenOptions> = {}): Promise<Fixture> {
  const store = await SqliteStore.open(":memory:");
  const keys = await SigningKeys.open(store);
  return fixture(store, keys, options);
}

/** A token service on an HS256 key ring. */
export async function hs256(options: Partial<AccessTokenOptions> = {}): Promise<Fixture> {
  const store = await SqliteStore.open(":memory:");
  const keys = await SigningKeys.open(store, { secret: SECRET });
  return fixture(store, keys, options);
}

function fixture(
  store: SqliteStore,
  keys: SigningKeys,
  options: Partial<AccessTokenOptions>,
): Fixture {
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
export function claims(overrides: JWTPayload = {}): JWTPayload {
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
export function signByHand(
  keys: SigningKeys,
  payload: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { kid, alg, key } = keys.signingKey();
  return new SignJWT(payload)
    .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE, ...header })
    .sign(key);
}

/** Asserts that `promise` rejects with AuthFailure("invalid_token", message). */
export async function assertInvalid(
  promise: Promise<unknown>,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof AuthFailure, `expected AuthFailure, got ${error}`);
    assert.equal(error.code, "invalid_token");
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}
