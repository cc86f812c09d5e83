/**
 * Refresh families written without the mark that says their client had to authenticate (before
 * the mark existed, or by an instance that did not know it during a one-at-a-time upgrade) do not
 * pass for a public client's once the client is dropped from `OAUTH_CLIENTS`: a start with the
 * client still configured marks them, and so does a refresh by the client with its secret. And a
 * marked family presented as the client alone, at once to an instance still configured with it
 * and to one without it (a rolling change of `OAUTH_CLIENTS`), is refused at both and ended once.
 * Each runs on SQLite and on PostgreSQL, the first two with the families unmarked straight in the
 * database, the last with two `serve` processes on one database.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { sha256Hex } from "../src/auth/secrets.ts";
import { PostgresStore } from "../src/store/postgres.ts";
import type { Store } from "../src/store/store.ts";
import { type Cluster, eventually, startCluster } from "./helpers/cluster.ts";
import { tokenRequest } from "./helpers/oidc.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import type { ServerProcess } from "./helpers/process.ts";
import { refresh, startTestServer, type TestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const PASSWORD = "alice-password-1";
const SVC_SECRET = "svc-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const SVC = { id: "svc", secret: SVC_SECRET };
const WITH_SVC = { OAUTH_CLIENTS: `svc:${SVC_SECRET}` };
const PASSWORD_GRANT = { grant_type: "password", username: "alice", password: PASSWORD };

type Json = Record<string, unknown>;

/** Where the families live: a server on it, and a way to unmark every family behind its back. */
interface Backend extends AsyncDisposable {
  /** Starts a server on the backend with `env`; the first one adds alice. */
  start(env: Record<string, string>): Promise<TestServer>;
  /** Sets `client_confidential` of every family to false, as an older instance writes it. */
  unmarkAll(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = await tempDir();
  let users: Record<string, string> | undefined = { alice: PASSWORD };
  return {
    async start(env) {
      const server = await startTestServer({ dir: dir.path, users, env });
      users = undefined;
      return server;
    },
    unmarkAll() {
      const db = new DatabaseSync(`${dir.path}/data/auth.db`);
      try {
        db.exec("PRAGMA busy_timeout = 5000");
        db.exec("UPDATE refresh_families SET client_confidential = 0");
      } finally {
        db.close();
      }
      return Promise.resolve();
    },
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}

async function postgresBackend(): Promise<Backend> {
  const database = await createTestDatabase();
  const dir = await tempDir();
  let users: Record<string, string> | undefined = { alice: PASSWORD };
  return {
    async start(env) {
      const store: Store = await PostgresStore.open(database.url);
      const server = await startTestServer({ dir: dir.path, users, env, store });
      users = undefined;
      return server;
    },
    async unmarkAll() {
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      try {
        await sql`UPDATE refresh_families SET client_confidential = false`;
      } finally {
        await sql.end();
      }
    },
    async [Symbol.asyncDispose]() {
      await dir[Symbol.asyncDispose]();
      await database[Symbol.asyncDispose]();
    },
  };
}

/** Tokens from svc's password grant at `server`. */
async function svcTokens(server: TestServer): Promise<Json> {
  const { res, body } = await tokenRequest(server, PASSWORD_GRANT, SVC);
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** Whether the family of `tokens`' refresh token is marked as a confidential client's. */
async function marked(server: TestServer, tokens: Json): Promise<boolean | undefined> {
  const state = await server.store.getRefreshToken(await sha256Hex(String(tokens.refresh_token)));
  return state?.family.clientConfidential;
}

/**
 * What a server without svc answers to each of `held`, presented at `/refresh` without
 * credentials and at `/oauth/token` as "svc" alone, several times at once; empty when every
 * answer says the client is gone and each family's end was recorded once.
 */
async function acceptedWithoutSvc(server: TestServer, held: Json[]): Promise<string[]> {
  const answers = await Promise.all(held.flatMap((tokens, i) => [
    refresh(server, String(tokens.refresh_token)).then(({ res, body }) => ({
      what: `/refresh of family ${i}`,
      status: res.status,
      body,
    })),
    refresh(server, String(tokens.refresh_token)).then(({ res, body }) => ({
      what: `/refresh of family ${i} again`,
      status: res.status,
      body,
    })),
    tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: String(tokens.refresh_token),
      client_id: "svc",
    }).then(({ res, body }) => ({
      what: `/oauth/token of family ${i} as svc alone`,
      status: res.status,
      body,
    })),
  ]));
  for (const tokens of held) {
    const state = await server.store.getRefreshToken(
      await sha256Hex(String(tokens.refresh_token)),
    );
    const ends = server.logs.filter((line) =>
      line.event === "refresh_refused" && line.reason === "client_removed" &&
      line.session === state?.family.id
    );
    if (ends.length !== 1) {
      answers.push({ what: `${ends.length} refusals recorded`, status: 0, body: {} });
    }
  }
  return answers
    .filter(({ status, body }) =>
      status !== 401 || body.error !== "invalid_client" || body.access_token !== undefined
    )
    .map(({ what, status, body }) => `${what}: ${status} ${JSON.stringify(body)}`);
}

async function markedAtStart(backend: Backend): Promise<void> {
  const held: Json[] = [];
  {
    await using before = await backend.start(WITH_SVC);
    for (let i = 0; i < 3; i++) held.push(await svcTokens(before));
  }
  await backend.unmarkAll();
  {
    // The upgraded instance, still with svc.
    await using upgraded = await backend.start(WITH_SVC);
    for (const tokens of held) assert.equal(await marked(upgraded, tokens), true);
    const line = upgraded.logs.find((entry) =>
      entry.msg === "Marked refresh families of OAUTH_CLIENTS as confidential"
    );
    assert.equal(line?.families, 3, "the start says how many families it marked");
  }
  {
    await using again = await backend.start(WITH_SVC);
    assert.equal(
      again.logs.some((entry) => String(entry.msg).startsWith("Marked refresh families")),
      false,
      "nothing left to mark",
    );
  }
  await using after = await backend.start({});
  assert.deepEqual(await acceptedWithoutSvc(after, held), []);
}

async function markedByRotation(backend: Backend): Promise<void> {
  const held: Json[] = [];
  {
    await using running = await backend.start(WITH_SVC);
    const issued = [await svcTokens(running), await svcTokens(running)];
    // As if an older instance, still running, had started these families.
    await backend.unmarkAll();
    for (const tokens of issued) assert.equal(await marked(running, tokens), false);
    for (const tokens of issued) {
      const { res, body } = await tokenRequest(running, {
        grant_type: "refresh_token",
        refresh_token: String(tokens.refresh_token),
      }, SVC);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(await marked(running, body), true, "the rotation marks the family");
      held.push(body);
    }
  }
  await using after = await backend.start({});
  assert.deepEqual(await acceptedWithoutSvc(after, held), []);
}

/** Parallel rounds of the rolling change, and copies of each token per instance per round. */
const ROUNDS = 3;
const COPIES = 3;
/** Why each instance refuses svc alone: A knows it must authenticate, B that it is gone. */
const REFUSED_BECAUSE: Record<string, string> = {
  A: 'Client "svc" must authenticate',
  B: 'Client "svc" no longer exists',
};

/**
 * A with svc in `OAUTH_CLIENTS`, B already without it: svc's families, started at A with its
 * secret, presented as svc alone at both at once, round after round.
 */
async function droppedDuringRollingChange(kind: "sqlite" | "postgres"): Promise<void> {
  await using cluster: Cluster = await startCluster(kind, { alice: PASSWORD }, {}, {
    a: WITH_SVC,
  });
  const { a, b } = cluster;
  const at = (server: ServerProcess) => ({ url: server.url, client: cluster.client });
  const held: Json[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const { res, body } = await tokenRequest(at(a), PASSWORD_GRANT, SVC);
    assert.equal(res.status, 200, JSON.stringify(body));
    held.push(body);
  }
  const families: string[] = [];
  for (const tokens of held) {
    const state = await cluster.store.getRefreshToken(
      await sha256Hex(String(tokens.refresh_token)),
    );
    assert.equal(state?.family.clientConfidential, true, "issued while svc was configured");
    families.push(state.family.id);
    const hello = await cluster.call(a, "/hello", { token: String(tokens.access_token) });
    assert.equal(hello.status, 200, "the access token works before");
  }

  const problems: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // This round's family is met for the first time; the earlier ones come back.
    const answers = await Promise.all(
      held.slice(0, round + 1).flatMap((tokens, i) =>
        [a, b].flatMap((server) =>
          Array.from({ length: COPIES }, () =>
            cluster.call(server, "/oauth/token", {
              form: {
                grant_type: "refresh_token",
                refresh_token: String(tokens.refresh_token),
                client_id: "svc",
              },
            }).then(({ status, body }) => ({ family: i, at: server.name, status, body })))
        )
      ),
    );
    for (const { family, at, status, body } of answers) {
      if (
        status !== 401 || body.error !== "invalid_client" || body.access_token !== undefined ||
        body.error_description !== REFUSED_BECAUSE[at]
      ) {
        problems.push(
          `round ${round}, family ${family} at ${at}: ${status} ${JSON.stringify(body)}`,
        );
      }
    }
  }
  assert.deepEqual(problems, [], "every answer is a refusal of the client");

  const ends = (family: string) =>
    [...a.logs, ...b.logs].filter((line) =>
      line.msg === "audit" && line.event === "refresh_refused" &&
      line.reason === "client_removed" && line.session === family
    ).length;
  await eventually(
    "each family's end in the logs",
    () => Promise.resolve(families.every((family) => ends(family) > 0)),
  );
  for (const [i, tokens] of held.entries()) {
    const state = await cluster.store.getRefreshToken(
      await sha256Hex(String(tokens.refresh_token)),
    );
    assert.notEqual(state?.family.revokedAt ?? null, null, `family ${i} is revoked`);
    assert.equal(state?.token.usedAt, null, `refresh token ${i} was never rotated`);
  }
  let accepted: number[] = [];
  await eventually("A to refuse the families' access tokens", async () => {
    accepted = [];
    for (const [i, tokens] of held.entries()) {
      const hello = await cluster.call(a, "/hello", { token: String(tokens.access_token) });
      if (hello.status !== 401) accepted.push(i);
    }
    return accepted.length === 0;
  });
  // Read last, so that a second end logged late would be counted too.
  assert.deepEqual(families.map(ends), families.map(() => 1), "each family ended once");
}

Deno.test("SQLite: families of a client in OAUTH_CLIENTS written unmarked are marked at the next start with it, and refused once it is dropped", async () => {
  await using backend = await sqliteBackend();
  await markedAtStart(backend);
});

Deno.test("SQLite: an unmarked family refreshed by its confidential client is marked, and refused once the client is dropped", async () => {
  await using backend = await sqliteBackend();
  await markedByRotation(backend);
});

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL: families of a client in OAUTH_CLIENTS written unmarked are marked at the next start with it, and refused once it is dropped",
  async fn() {
    await using backend = await postgresBackend();
    await markedAtStart(backend);
  },
});

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL: an unmarked family refreshed by its confidential client is marked, and refused once the client is dropped",
  async fn() {
    await using backend = await postgresBackend();
    await markedByRotation(backend);
  },
});

Deno.test("SQLite, two instances: a client dropped from OAUTH_CLIENTS at one instance only has its families refused at both and ended once", async () => {
  await droppedDuringRollingChange("sqlite");
});

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL, two instances: a client dropped from OAUTH_CLIENTS at one instance only has its families refused at both and ended once",
  async fn() {
    await droppedDuringRollingChange("postgres");
  },
});
