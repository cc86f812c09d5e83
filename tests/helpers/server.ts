/**
 * The service under test, in this process: {@linkcode startTestServer} serves it over real HTTPS
 * on a random port with its own certificate, store and captured log; the other functions are the
 * calls tests make to its endpoints.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type PasswordCheck, Passwords } from "../../src/auth/accounts/passwords.ts";
import { unixNow } from "../../src/clock.ts";
import type { Config } from "../../src/config.ts";
import { loadConfig } from "../../src/config_load.ts";
import { createLogger } from "../../src/log.ts";
import { type RunningServer, startServer } from "../../src/server.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { tempDir } from "./temp_dir.ts";
import { testCertificate, writeTlsFiles } from "./tls.ts";

/** Iterations for test users: real PBKDF2, cheap enough for hundreds of logins. */
export const TEST_ITERATIONS = 1000;
/** The floor test hashers accept for stored hashes (production's is MIN_PBKDF2_ITERATIONS). */
export const TEST_MIN_ITERATIONS = 100;

/** A hasher with test-sized iteration counts. */
export function testHasher(iterations = TEST_ITERATIONS): Passwords {
  return new Passwords(iterations, { minIterations: TEST_MIN_ITERATIONS });
}

/**
 * A real hasher with test-sized iteration counts (as {@linkcode testHasher}) that counts every
 * password check, real or dummy (which runs `verify`).
 */
export class CountingHasher extends Passwords {
  checks = 0;

  constructor(iterations = TEST_ITERATIONS) {
    super(iterations, { minIterations: TEST_MIN_ITERATIONS });
  }

  override verify(password: string, stored: string): Promise<PasswordCheck> {
    this.checks++;
    return super.verify(password, stored);
  }
}

/** A server on a random port with its own certificate, store and captured log. */
export interface TestServer extends AsyncDisposable {
  url: string;
  httpUrl?: string;
  /** A fetch client that trusts the test certificate. */
  client: Deno.HttpClient;
  certPem: string;
  /** The configuration, with the issuer and audience the server actually uses. */
  config: Config;
  store: Store;
  running: RunningServer;
  /** Log lines written so far, parsed. */
  logs: Record<string, unknown>[];
  /** Raw log lines, to check that secrets never appear. */
  rawLogs: string[];
  dir: string;
}

/** Options of a test server. */
export interface TestServerOptions {
  /** Environment variables, as a user would set them. */
  env?: Record<string, string>;
  /** Users to create, name → password. */
  users?: Record<string, string>;
  hasher?: Passwords;
  /** Config fields to replace after the environment is read. */
  config?: Partial<Config>;
  /** An existing directory (with certs/ and data/auth.db) to reuse, for restart tests. */
  dir?: string;
  /**
   * A store to serve from (for example a PostgresStore) instead of the SQLite file in `dir`;
   * the server closes it on dispose.
   */
  store?: Store;
}

/** Starts the real HTTPS server on port 0 with a temp certificate and store. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const temp = options.dir === undefined ? await tempDir() : undefined;
  const dir = options.dir ?? temp!.path;
  const { certPem } = await testCertificate();
  const { certPath, keyPath } = await writeTlsFiles(dir);
  const config: Config = {
    ...loadConfig(["--port", "0", "--host", "localhost"], {
      TLS_CERT: certPath,
      TLS_KEY: keyPath,
      DATABASE_URL: `sqlite:${dir}/data/auth.db`,
      ...options.env,
    }),
    passwordIterations: TEST_ITERATIONS,
    ...options.config,
  };
  const hasher = options.hasher ?? testHasher(config.passwordIterations);
  // The default layout, so that the CLI tasks run in `dir` may read and write the store too.
  const store = options.store ?? await SqliteStore.open(`${dir}/data/auth.db`);
  for (const [name, password] of Object.entries(options.users ?? {})) {
    await store.addUser(name, await hasher.hash(password));
  }
  const rawLogs: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger(config.logLevel, (line) => {
    rawLogs.push(line);
    logs.push(JSON.parse(line));
  });
  const running = await startServer(config, logger, { store, hasher });
  const client = Deno.createHttpClient({ caCerts: [certPem] });
  return {
    url: running.url,
    httpUrl: running.httpUrl,
    client,
    certPem,
    config: {
      ...config,
      issuer: running.tokens.options.issuer,
      audience: running.tokens.options.audience,
    },
    store,
    running,
    logs,
    rawLogs,
    dir,
    async [Symbol.asyncDispose]() {
      await running.shutdown();
      client.close();
      await temp?.[Symbol.asyncDispose]();
    },
  };
}

/** Where a running server answers, and a client that trusts its certificate. */
export interface Endpoint {
  url: string;
  client: Deno.HttpClient;
}

/** The subject (the `sub` of its tokens) of the account named `username` in the server's store. */
export async function subjectOf(server: { store: Store }, username: string): Promise<string> {
  const user = await server.store.getUser(username);
  assert.ok(user, `user "${username}" exists`);
  return user.subject;
}

/** Logs in over HTTPS and returns the parsed JSON answer and the response. */
export async function login(
  server: Endpoint,
  username: string,
  password: string,
  signal?: AbortSignal,
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
    signal,
  });
  return { res, body: await res.json() };
}

/** Logs in over HTTPS, asserts a 200, and returns the access token. */
export async function loginToken(
  server: Endpoint,
  username = "user1",
  password = "password1",
): Promise<string> {
  const { res, body } = await login(server, username, password);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(typeof body.access_token, "string");
  return body.access_token as string;
}

/** Logs in over HTTPS, asserts a 200, and returns the access and refresh tokens. */
export async function loginTokens(
  server: Endpoint,
  username = "user1",
  password = "password1",
): Promise<{ access: string; refresh: string }> {
  const { res, body } = await login(server, username, password);
  assert.equal(res.status, 200, JSON.stringify(body));
  return { access: body.access_token as string, refresh: body.refresh_token as string };
}

/** Calls GET /hello with the given Authorization header value (none when undefined). */
export async function hello(
  server: Endpoint,
  authorization?: string,
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/hello`, {
    client: server.client,
    headers: authorization === undefined ? {} : { authorization },
  });
  return { res, body: await res.json() };
}

/** POSTs to /refresh with the token in a JSON body, or in `Authorization: Bearer` when `bearer`. */
export async function refresh(
  server: Endpoint,
  token: string,
  { bearer = false }: { bearer?: boolean } = {},
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/refresh`, {
    method: "POST",
    client: server.client,
    headers: bearer ? { authorization: `Bearer ${token}` } : { "content-type": "application/json" },
    body: bearer ? null : JSON.stringify({ refresh_token: token }),
  });
  return { res, body: await res.json() };
}

/**
 * The access-token keys GET /.well-known/jwks.json lists: every key but the ID-token keys, which
 * `store` (the server's) names. Both may be RS256, so only the store tells them apart.
 */
export async function accessTokenJwks(
  server: Endpoint & { store: Store },
): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${server.url}/.well-known/jwks.json`, { client: server.client });
  assert.equal(res.status, 200);
  const { keys } = await res.json() as { keys: Record<string, unknown>[] };
  const idTokenKids = new Set(
    (await server.store.listIdTokenKeys(unixNow())).map((key) => key.kid),
  );
  return keys.filter((key) => !idTokenKids.has(key.kid as string));
}

/** The ids of the access-token keys GET /.well-known/jwks.json lists. */
export async function jwksKids(server: Endpoint & { store: Store }): Promise<string[]> {
  return (await accessTokenJwks(server)).map((key) => key.kid as string);
}

/**
 * Asserts a 200 token answer of POST /login, /refresh or /oauth/token with the default settings:
 * JSON, not to be cached, and exactly access_token (a JWS), token_type Bearer, expires_in 900, a
 * 43-character refresh_token and scope hello, plus the device_token of a password login.
 */
export function assertTokenResponse(
  res: Response,
  body: Record<string, unknown>,
  { deviceToken = false }: { deviceToken?: boolean } = {},
): void {
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-store");
  const fields = ["access_token", "expires_in", "refresh_token", "scope", "token_type"];
  if (deviceToken) fields.unshift("device_token");
  assert.deepEqual(Object.keys(body).sort(), fields.sort());
  assert.equal(typeof body.access_token, "string");
  assert.equal((body.access_token as string).split(".").length, 3);
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 900);
  assert.match(body.refresh_token as string, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(body.scope, "hello");
}

/** Asserts that GET /hello refuses `token` as revoked, with an RFC 6750 invalid_token challenge. */
export async function assertRevoked(server: Endpoint, token: string): Promise<void> {
  const { res, body } = await hello(server, `Bearer ${token}`);
  assert.equal(res.status, 401);
  assert.deepEqual(body, { msg: "Token has been revoked" });
  assert.match(res.headers.get("www-authenticate")!, /^Bearer .*error="invalid_token"/);
}
