/**
 * @module
 * What every part of the store contract shares: the records it stores (made at {@linkcode NOW}),
 * small steps on the throttle and on refresh families, and {@linkcode contractContext}, which
 * registers a case to run on a fresh store (and, where the store can be reopened, on more
 * connections to its database) and closes them all afterwards.
 */
import assert from "node:assert/strict";
import {
  type AuthorizationCodeRecord,
  type BrowserSessionRecord,
  type ClientRecord,
  type NewRefreshToken,
  type NewSigningKey,
  type PendingRequestRecord,
  type RefreshFamilyRecord,
  type RefreshTokenRecord,
  type Store,
  type ThrottleRecord,
} from "../../src/store/store.ts";
import { type Prerequisite, testNeeding } from "../helpers/prerequisites.ts";

/** Optional capabilities of the store under test. */
export interface StoreContractOptions {
  /**
   * Opens another connection to the database behind `store` (for SQLite: the same file). Enables
   * the persistence, two-connection and re-migration tests.
   */
  reopen?: (store: Store) => Promise<Store>;
  /** Runs after each test, once the store is closed (for example to drop its database). */
  cleanup?: (store: Store) => Promise<void>;
  /** What the store's server needs from the machine; the tests are skipped where it is missing. */
  needs?: readonly Prerequisite[];
}

/** A signing key record with dummy key material; the store never looks inside it. */
export function keyRecord(
  kid: string,
  createdAt: number,
  retiresAt: number | null = null,
): NewSigningKey {
  return {
    kid,
    alg: "ES256",
    privateJwk: JSON.stringify({ kty: "EC", kid, d: "private" }),
    publicJwk: JSON.stringify({ kty: "EC", kid }),
    createdAt,
    retiresAt,
  };
}

/** The time the contract's records are made at. */
export const NOW = 1_900_000_000;

/** The password hash the contract's users are added with. */
export const HASH = "$hash-a";

/** A live family of alice's, started at NOW, ending a day later, access tokens until NOW + 930. */
export function familyRecord(
  id: string,
  fields: Partial<RefreshFamilyRecord> = {},
): RefreshFamilyRecord {
  return {
    id,
    username: "alice",
    subject: "subject-alice",
    clientId: "auth-api",
    createdAt: NOW,
    expiresAt: NOW + 86400,
    accessExpiresAt: NOW + 930,
    revokedAt: null,
    dpopJkt: null,
    clientConfidential: false,
    ...fields,
  };
}

/** The state of one throttle key, read through the store's one throttle operation. */
export function readThrottle(store: Store, key: string): Promise<ThrottleRecord | undefined> {
  return store.updateThrottles([key], (current) => ({ writes: {}, result: current.get(key) }));
}

/** Stores `record` as the state of `key`. */
export async function writeThrottle(
  store: Store,
  key: string,
  record: ThrottleRecord,
): Promise<void> {
  await store.updateThrottles([key], () => ({ writes: { [key]: record }, result: 0 }));
}

/** Adds one failure to each of `keys` in one call. */
export async function increment(store: Store, keys: string[]): Promise<void> {
  await store.updateThrottles(keys, (current) => ({
    writes: Object.fromEntries(keys.map((key) => [key, {
      failures: (current.get(key)?.failures ?? 0) + 1,
      windowStartAt: 1,
      blockedUntil: 0,
    }])),
    result: undefined,
  }));
}

/**
 * Counts one attempt on each of `keys` unless one of them already has `budget` failures, as
 * the login throttle does; true when it was counted.
 */
export function reserve(store: Store, keys: string[], budget: number): Promise<boolean> {
  return store.updateThrottles(keys, (current) => {
    if (keys.some((key) => (current.get(key)?.failures ?? 0) >= budget)) {
      return { writes: {}, result: false };
    }
    return {
      writes: Object.fromEntries(keys.map((key) => [key, {
        failures: (current.get(key)?.failures ?? 0) + 1,
        windowStartAt: 1,
        blockedUntil: 0,
      }])),
      result: true,
    };
  });
}

/** A refresh token record valid for an hour from NOW, unused. */
export function tokenRecord(
  tokenHash: string,
  familyId: string,
  fields: Partial<RefreshTokenRecord> = {},
): RefreshTokenRecord {
  return {
    tokenHash,
    familyId,
    scope: "hello",
    createdAt: NOW,
    expiresAt: NOW + 3600,
    usedAt: null,
    ...fields,
  };
}

/** A confidential client registered at NOW. */
export function clientRecord(clientId: string, fields: Partial<ClientRecord> = {}): ClientRecord {
  return {
    clientId,
    name: null,
    secretHash: "f".repeat(64),
    redirectUris: ["https://app.example/callback"],
    postLogoutRedirectUris: [],
    firstParty: false,
    scope: "openid profile",
    grantTypes: ["authorization_code", "refresh_token"],
    createdAt: NOW,
    requirePar: false,
    dpopBound: false,
    ...fields,
  };
}

/** A pending step valid for ten minutes from NOW. */
export function pendingRecord(
  id: string,
  fields: Partial<PendingRequestRecord> = {},
): PendingRequestRecord {
  return {
    id,
    bindingHash: "b".repeat(64),
    csrfHash: "c".repeat(64),
    action: '{"kind":"sign_in"}',
    address: null,
    createdAt: NOW,
    expiresAt: NOW + 600,
    ...fields,
  };
}

/** An unused authorization code valid for a minute from NOW. */
export function codeRecord(
  codeHash: string,
  fields: Partial<AuthorizationCodeRecord> = {},
): AuthorizationCodeRecord {
  return {
    codeHash,
    clientId: "app",
    username: "alice",
    subject: "subject-alice",
    redirectUri: "https://app.example/callback",
    scope: "openid",
    codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    nonce: "n-0S6_WzA2Mj",
    authTime: NOW - 5,
    browserSid: "sid-1",
    createdAt: NOW,
    expiresAt: NOW + 60,
    usedAt: null,
    familyId: null,
    replayedAt: null,
    dpopJkt: null,
    ...fields,
  };
}

/** A browser session signed in at NOW, idle for at most 30 minutes, for at most 10 hours. */
export function browserSession(
  idHash: string,
  sid: string,
  fields: Partial<BrowserSessionRecord> = {},
): BrowserSessionRecord {
  return {
    idHash,
    sid,
    username: "alice",
    subject: "subject-alice",
    authTime: NOW,
    createdAt: NOW,
    idleExpiresAt: NOW + 1800,
    expiresAt: NOW + 36_000,
    ...fields,
  };
}

/**
 * Starts a family with its first token `tokenHash` for the family's user, adding that user (with
 * {@linkcode HASH}) when needed.
 */
export async function startFamily(
  store: Store,
  family: RefreshFamilyRecord,
  tokenHash: string,
  token: Partial<RefreshTokenRecord> = {},
): Promise<RefreshTokenRecord> {
  if (!await store.getUser(family.username)) await store.addUser(family.username, HASH);
  const first = tokenRecord(tokenHash, family.id, token);
  assert.equal(await store.startRefreshFamily(family, first, HASH), true, "family started");
  return first;
}

/** A rotation that asks for `tokenHash`, valid two hours from NOW, access tokens until NOW + 2000. */
export function nextToken(
  tokenHash: string,
  fields: Partial<NewRefreshToken> = {},
): () => NewRefreshToken {
  return () => ({
    tokenHash,
    scope: "hello",
    expiresAt: NOW + 7200,
    accessExpiresAt: NOW + 2000,
    ...fields,
  });
}

/** How a part of the contract registers its cases. */
export interface ContractContext {
  /** Registers `fn` as the case "<name> `title`", run on a fresh store closed afterwards. */
  test(title: string, fn: (store: Store) => Promise<void>): void;
  /**
   * Registers `fn` like {@linkcode ContractContext.test}, only for stores whose database can be
   * opened again; `reopen` opens another connection to it, closed after the case.
   */
  testReopening(
    title: string,
    fn: (store: Store, reopen: () => Promise<Store>) => Promise<void>,
  ): void;
}

/**
 * The context in which the parts register their cases for the store `name`; `open` must return
 * a new, empty store on each call.
 */
export function contractContext(
  name: string,
  open: () => Promise<Store>,
  options: StoreContractOptions = {},
): ContractContext {
  const { reopen, cleanup, needs = [] } = options;

  function register(
    title: string,
    fn: (store: Store, reopen: () => Promise<Store>) => Promise<void>,
  ): void {
    testNeeding(needs, {
      name: `${name} ${title}`,
      async fn() {
        const store = await open();
        const others: Store[] = [];
        const another = async () => {
          const other = await reopen!(store);
          others.push(other);
          return other;
        };
        try {
          await fn(store, another);
        } finally {
          for (const other of others) await other.close();
          await store.close();
          await cleanup?.(store);
        }
      },
    });
  }

  return {
    test: (title, fn) => register(title, (store) => fn(store)),
    testReopening: (title, fn) => {
      if (reopen) register(title, fn);
    },
  };
}
