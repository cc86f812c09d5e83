/**
 * What was under way when a client was removed never outlives the removal: password grants whose
 * password check straddles `clients remove` leave no refresh token or access token of the client
 * alive (two instances on SQLite and on PostgreSQL); a code whose storing raced the removal is
 * not the same id's new registration's; and `clients remove` returns only once the second its
 * tokens are refused up to is over, so the same id registered at once gets tokens that work at
 * once while the removed registration's stay refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../src/auth/secrets.ts";
import { unixNow } from "../src/clock.ts";
import { type Cluster, eventually, startCluster } from "./helpers/cluster.ts";
import {
  authorizationCode,
  PASSWORD,
  type Reachable,
  type TestClient,
  tokenRequest,
} from "./helpers/oidc.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { runCli, type ServerProcess } from "./helpers/process.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";
import { waitFor } from "./helpers/wait.ts";

const REDIRECT_URI = "https://web.example/callback";
const ALL_GRANTS = "authorization_code,refresh_token,password,client_credentials";

type Json = Record<string, unknown>;
type Basic = { id: string; secret: string };

/** Runs `clients` with `args` against the store at `databaseUrl`; returns the secret printed. */
async function clients(
  args: string[],
  where: { dir: string; databaseUrl: string },
): Promise<string | undefined> {
  const result = await runCli(["clients", ...args], {
    cwd: where.dir,
    env: { DATABASE_URL: where.databaseUrl },
  });
  assert.equal(result.code, 0, result.stderr);
  return /^client_secret: (\S+)$/m.exec(result.stdout)?.[1];
}

/** Registers the first-party confidential client `web` with every grant; returns it. */
async function addWeb(where: { dir: string; databaseUrl: string }): Promise<Basic> {
  const secret = await clients([
    "add",
    "web",
    "--first-party",
    "--redirect-uri",
    REDIRECT_URI,
    "--scope",
    "openid profile hello",
    "--grant",
    ALL_GRANTS,
  ], where);
  assert.ok(secret, "a secret was printed");
  return { id: "web", secret };
}

function sqliteOf(server: TestServer): { dir: string; databaseUrl: string } {
  return { dir: server.dir, databaseUrl: `sqlite:${server.dir}/data/auth.db` };
}

async function helloStatus(server: Reachable, token: unknown): Promise<number> {
  const res = await fetch(`${server.url}/hello`, {
    client: server.client,
    headers: { authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  return res.status;
}

async function passwordGrantsRacingRemoval(kind: "sqlite" | "postgres"): Promise<void> {
  await using cluster: Cluster = await startCluster(kind, { alice: PASSWORD });
  const at = (server: ServerProcess): Reachable => ({ url: server.url, client: cluster.client });
  const basic = await addWeb(cluster);
  const granted: Json[] = [];
  let removed = false;
  // Each worker asks until it is refused: every password check (a production-cost hash) that
  // began before the removal committed may end after it.
  const workers = Array.from({ length: 4 }, async (_, i) => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { res, body } = await tokenRequest(at(i % 2 ? cluster.b : cluster.a), {
        grant_type: "password",
        username: "alice",
        password: PASSWORD,
        scope: "hello",
      }, basic);
      if (res.status !== 200) return;
      granted.push(body);
    }
    assert.fail(`worker ${i} was never refused (removal done: ${removed})`);
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await clients(["remove", "web"], cluster);
  removed = true;
  await Promise.all(workers);
  assert.ok(granted.length > 0, "some grants came before the removal");

  const alive: string[] = [];
  for (const [i, tokens] of granted.entries()) {
    for (const server of [cluster.a, cluster.b]) {
      const { res, body } = await tokenRequest(at(server), {
        grant_type: "refresh_token",
        refresh_token: String(tokens.refresh_token),
        client_id: "web",
      });
      if (res.status === 200 || body.access_token !== undefined) {
        alive.push(`refresh token ${i} at ${server.name}`);
      }
    }
  }
  assert.deepEqual(alive, [], "no refresh token of the removed client works");
  await eventually("both instances to refuse every access token of the client", async () => {
    for (const tokens of granted) {
      for (const server of [cluster.a, cluster.b]) {
        if (await helloStatus(at(server), tokens.access_token) !== 401) return false;
      }
    }
    return true;
  });
}

Deno.test("SQLite, two instances: password grants under way while a client is removed leave none of its tokens alive", async () => {
  await passwordGrantsRacingRemoval("sqlite");
});

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL, two instances: password grants under way while a client is removed leave none of its tokens alive",
  async fn() {
    await passwordGrantsRacingRemoval("postgres");
  },
});

Deno.test("clients remove returns once its tokens' cutoff is over: the same id registered at once gets working tokens, the removed registration's stay refused", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const where = sqliteOf(server);
  const old = await addWeb(where);
  const service = (basic: Basic) =>
    tokenRequest(server, { grant_type: "client_credentials", scope: "hello" }, basic);
  const before = await service(old);
  assert.equal(before.res.status, 200, `${before.body.error}`);

  await clients(["remove", "web"], where);
  const renewed = await addWeb(where);
  const after = await service(renewed);
  assert.equal(after.res.status, 200, `${after.body.error}`);
  await waitFor(
    "the server to refuse the removed registration's token",
    async () => await helloStatus(server, before.body.access_token) === 401,
  );
  assert.equal(await helloStatus(server, after.body.access_token), 200, "the new registration's");
  const { res, body } = await service(old);
  assert.equal(res.status, 401, "the old secret is not the new registration's");
  assert.equal(body.error, "invalid_client");
});

Deno.test("a code stored while its client was being removed is not the new registration's: refused with the new secret, nothing issued", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const where = sqliteOf(server);
  await addWeb(where);
  const web: TestClient = { clientId: "web", redirectUri: REDIRECT_URI };
  const { code, verifier } = await authorizationCode(server, web, {
    params: { scope: "openid hello" },
  });
  // The code's row as stored; using it here only reads it back.
  const codeHash = await sha256Hex(code);
  const read = await server.store.useAuthorizationCode(codeHash, unixNow());
  assert.ok(read.outcome === "redeemed", read.outcome);

  await clients(["remove", "web"], where);
  const renewed = await addWeb(where);
  // The sign-in that made the code was under way during the removal: its code lands afterwards.
  await server.store.addAuthorizationCode({ ...read.record, usedAt: null });

  const { res, body } = await tokenRequest(server, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT_URI,
  }, renewed);
  // Tokens stay out of the message: it is printed when the test fails.
  assert.equal(res.status, 400, `${res.status} ${body.error}`);
  assert.equal(body.error, "invalid_grant");
  assert.equal(body.access_token, undefined);
});
