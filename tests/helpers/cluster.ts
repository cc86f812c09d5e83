/**
 * Two `serve` processes on one database (a SQLite file or a PostgreSQL database), with the test's
 * own connection to it, for tests of what several instances see of one another's changes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Passwords } from "../../src/auth/accounts/passwords.ts";
import { unixNow } from "../../src/clock.ts";
import { PostgresStore } from "../../src/store/postgres.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { createTestDatabase } from "./postgres.ts";
import { ServerProcess } from "./process.ts";
import { testCertificate, writeTlsFiles } from "./tls.ts";
import { randomRefreshToken, sha256Hex } from "./refresh_tokens.ts";
import { waitFor } from "./wait.ts";

/** How long a change made through one instance (or the CLI) may take to reach the others. */
export const SYNC_DEADLINE_MS = 3000;
/** The servers' `JWT_LEEWAY`. */
export const LEEWAY_SECONDS = 30;

/** The instances' `PUBLIC_URL`, their issuer. */
export const ISSUER = "https://auth.cluster.test";

type Json = Record<string, unknown>;

/** Two running instances on one database. */
export interface Cluster extends AsyncDisposable {
  /** "SQLite" or "PostgreSQL". */
  kind: string;
  a: ServerProcess;
  b: ServerProcess;
  /** A fetch client that trusts the instances' certificate. */
  client: Deno.HttpClient;
  /** The test's own connection to the database. */
  store: Store;
  /** The `DATABASE_URL` of the instances, for the CLI. */
  databaseUrl: string;
  /** The instances' working directory (certs/, data/), where the CLI must run too. */
  dir: string;
  /** Calls an instance; `json` makes a JSON POST, `form` a form POST. */
  call(
    server: ServerProcess,
    path: string,
    init?: { method?: string; token?: string; json?: unknown; form?: Record<string, string> },
  ): Promise<{ status: number; body: Json }>;
}

/**
 * Starts two instances on a new SQLite file or a new PostgreSQL database, both with `extraEnv`
 * and each with its own part of `instanceEnv` over it (two configurations during a rolling change).
 */
export async function startCluster(
  kind: "sqlite" | "postgres",
  users: Record<string, string>,
  extraEnv: Record<string, string> = {},
  instanceEnv: { a?: Record<string, string>; b?: Record<string, string> } = {},
): Promise<Cluster> {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-cluster-" });
  const database = kind === "postgres" ? await createTestDatabase() : undefined;
  // The default layout under `dir`, which the serve task may read: certs/ and data/.
  const databaseUrl = database?.url ?? `sqlite:${dir}/data/auth.db`;
  const { certPem } = await testCertificate();
  const { certPath, keyPath } = await writeTlsFiles(dir);
  const store = database
    ? await PostgresStore.open(database.url, { maxConnections: 4 })
    : await SqliteStore.open(`${dir}/data/auth.db`);
  // At the servers' own cost: they refuse hashes below the production floor, and no login
  // upgrades them meanwhile.
  const hasher = new Passwords();
  await Promise.all(
    Object.entries(users).map(async ([name, password]) =>
      await store.addUser(name, await hasher.hash(password))
    ),
  );
  const env = {
    DATABASE_URL: databaseUrl,
    TLS_CERT: certPath,
    TLS_KEY: keyPath,
    PUBLIC_URL: ISSUER,
    LOG_LEVEL: "info",
    JWT_LEEWAY: String(LEEWAY_SECONDS),
    // These tests present revoked tokens again and again on purpose, from one address.
    INVALID_TOKEN_BUDGET_PER_MINUTE: "1000000",
    ...extraEnv,
  };
  const options = { cwd: dir, disposeSignal: "SIGTERM" } as const;
  const a = new ServerProcess(["serve", "--port", "0"], {
    name: "A",
    env: { ...env, ...instanceEnv.a },
    ...options,
  });
  const b = new ServerProcess(["serve", "--port", "0"], {
    name: "B",
    env: { ...env, ...instanceEnv.b },
    ...options,
  });
  const client = Deno.createHttpClient({ caCerts: [certPem] });
  const cluster: Cluster = {
    kind: kind === "postgres" ? "PostgreSQL" : "SQLite",
    a,
    b,
    client,
    store,
    databaseUrl,
    dir,
    async call(server, path, init = {}) {
      const headers: Record<string, string> = {};
      if (init.token) headers.authorization = `Bearer ${init.token}`;
      let body: BodyInit | undefined;
      if (init.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(init.json);
      } else if (init.form) {
        body = new URLSearchParams(init.form);
      }
      const res = await fetch(`${server.url}${path}`, {
        method: init.method ?? (body === undefined ? "GET" : "POST"),
        client,
        headers,
        body,
      });
      return { status: res.status, body: await res.json() as Json };
    },
    async [Symbol.asyncDispose]() {
      await Promise.all([a[Symbol.asyncDispose](), b[Symbol.asyncDispose]()]);
      for (const server of [a, b]) {
        const errors = server.lines.filter((line) => line.includes('"level":"error"'));
        assert.deepEqual(errors, [], `${server.name} logged no errors`);
      }
      client.close();
      await store.close();
      await database?.[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
  try {
    await Promise.all([a.listening(), b.listening()]);
  } catch (error) {
    await Promise.resolve(cluster[Symbol.asyncDispose]()).catch(() => {});
    throw error;
  }
  return cluster;
}

/**
 * A session of `username` without a password hash's cost: a family planted in the store, whose
 * first refresh token `server` exchanges for an access and a refresh token.
 */
export async function plantSession(
  cluster: Cluster,
  server: ServerProcess,
  username: string,
): Promise<{ access: string; refresh: string }> {
  const user = await cluster.store.getUser(username);
  assert.ok(user, `user "${username}" exists`);
  const now = unixNow();
  const seed = randomRefreshToken();
  const familyId = crypto.randomUUID();
  const started = await cluster.store.startRefreshFamily({
    id: familyId,
    username,
    subject: user.subject,
    clientId: "auth-api",
    createdAt: now,
    expiresAt: now + 3600,
    accessExpiresAt: now,
    revokedAt: null,
  }, {
    tokenHash: await sha256Hex(seed),
    familyId,
    scope: "hello",
    createdAt: now,
    expiresAt: now + 3600,
    usedAt: null,
  }, user.passwordHash);
  assert.ok(started, "session planted");
  const { status, body } = await cluster.call(server, "/refresh", {
    json: { refresh_token: seed },
  });
  assert.equal(status, 200, JSON.stringify(body));
  return { access: body.access_token as string, refresh: body.refresh_token as string };
}

/**
 * Polls until every check is true, failing after {@linkcode SYNC_DEADLINE_MS}; returns the
 * milliseconds it took.
 */
export async function eventually(what: string, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  await waitFor(what, check, { timeoutMs: SYNC_DEADLINE_MS });
  return Math.round(performance.now() - started);
}
