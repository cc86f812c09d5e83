import { PasswordHasher } from "../../src/auth/passwords.ts";
import { generateCertificate } from "../../src/certs/generate.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { type RunningServer, startServer } from "../../src/server.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";

/** Iterations for test users: real PBKDF2, cheap enough for hundreds of logins. */
export const TEST_ITERATIONS = 1000;
/** The floor test hashers accept for stored hashes (production's is MIN_PBKDF2_ITERATIONS). */
export const TEST_MIN_ITERATIONS = 100;

/** A hasher with test-sized iteration counts. */
export function testHasher(iterations = TEST_ITERATIONS): PasswordHasher {
  return new PasswordHasher(iterations, { minIterations: TEST_MIN_ITERATIONS });
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
  hasher?: PasswordHasher;
  /** Config fields to replace after the environment is read. */
  config?: Partial<Config>;
  /** An existing directory (with auth.db) to reuse, for restart tests. */
  dir?: string;
  /**
   * A store to serve from (for example a PostgresStore) instead of the SQLite file in `dir`;
   * the server closes it on dispose.
   */
  store?: Store;
}

let certificate: Promise<{ certPem: string; keyPem: string }> | undefined;

/** A P-256 certificate for localhost shared by the tests of one process. */
export function testCertificate(): Promise<{ certPem: string; keyPem: string }> {
  certificate ??= generateCertificate({ keyType: "ecdsa" });
  return certificate;
}

/** Starts the real HTTPS server on port 0 with a temp certificate and store. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "auth-api-test-" });
  const { certPem, keyPem } = await testCertificate();
  await Deno.writeTextFile(`${dir}/cert.pem`, certPem);
  await Deno.writeTextFile(`${dir}/key.pem`, keyPem, { mode: 0o600 });
  const config: Config = {
    ...loadConfig(["--port", "0", "--host", "localhost"], {
      TLS_CERT: `${dir}/cert.pem`,
      TLS_KEY: `${dir}/key.pem`,
      DATABASE_URL: `sqlite:${dir}/auth.db`,
      ...options.env,
    }),
    passwordIterations: TEST_ITERATIONS,
    ...options.config,
  };
  const hasher = options.hasher ?? testHasher(config.passwordIterations);
  const store = options.store ?? await SqliteStore.open(`${dir}/auth.db`);
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
      if (!options.dir) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Logs in over HTTPS and returns the parsed JSON answer and the response. */
export async function login(
  server: TestServer,
  username: string,
  password: string,
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  return { res, body: await res.json() };
}

/** Calls GET /hello with the given Authorization header value (none when undefined). */
export async function hello(
  server: TestServer,
  authorization?: string,
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/hello`, {
    client: server.client,
    headers: authorization === undefined ? {} : { authorization },
  });
  return { res, body: await res.json() };
}
