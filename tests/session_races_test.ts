/**
 * @module
 * A refresh that runs while its session is being revoked (logout, RFC 7009 revocation, or reuse
 * detection) must never outlive the revocation: many rounds of real parallel requests against two
 * server processes on one database, SQLite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import type { Store } from "../src/store/store.ts";
import {
  type Cluster,
  eventually,
  LEEWAY_SECONDS,
  plantSession,
  startCluster,
} from "./helpers/cluster.ts";
import { sha256Hex } from "./helpers/refresh_tokens.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";

const ROUNDS = 40;
const USERS = { alice: "alice-password-1" };

/**
 * Asserts the family of `firstRefresh` is revoked and that its `sid` revocation lasts as long as
 * any of `minted` may be accepted, so that none of them ever passes again.
 */
async function assertFamilyClosed(
  store: Store,
  firstRefresh: string,
  minted: string[],
  round: number,
): Promise<void> {
  const state = await store.getRefreshToken(await sha256Hex(firstRefresh));
  assert.ok(state, `round ${round}: the family exists`);
  assert.notEqual(state.family.revokedAt, null, `round ${round}: the family is revoked`);
  const sid = (await store.listRevocations(0, 0))
    .find((record) => record.kind === "sid" && record.id === state.family.id);
  assert.ok(sid, `round ${round}: the session's access tokens are revoked`);
  for (const access of minted) {
    const { exp, sid: tokenSid } = decodeJwt(access);
    assert.equal(tokenSid, state.family.id);
    assert.ok(
      sid.expiresAt >= exp! + LEEWAY_SECONDS,
      `round ${round}: revoked until ${sid.expiresAt}, token accepted until ${
        exp! + LEEWAY_SECONDS
      }`,
    );
  }
}

/** Asserts every refresh token is refused by both instances. */
async function assertRefreshRefused(cluster: Cluster, tokens: string[], round: number) {
  for (const token of tokens) {
    for (const server of [cluster.a, cluster.b]) {
      const { status, body } = await cluster.call(server, "/refresh", {
        json: { refresh_token: token },
      });
      assert.equal(status, 400, `round ${round} on ${server.name}: ${JSON.stringify(body)}`);
      assert.equal(body.error, "invalid_grant");
    }
  }
}

/** Waits until both instances refuse every access token as revoked; returns how long it took. */
async function assertAccessRevoked(cluster: Cluster, tokens: string[]): Promise<number> {
  return await eventually("both instances refusing every access token", async () => {
    for (const token of tokens) {
      for (const server of [cluster.a, cluster.b]) {
        const { status, body } = await cluster.call(server, "/hello", { token });
        if (status !== 401) return false;
        assert.deepEqual(body, { msg: "Token has been revoked" });
      }
    }
    return true;
  });
}

async function refreshRacingRevocation(cluster: Cluster): Promise<string> {
  const { a, b } = cluster;
  const minted: string[] = [];
  let refreshWon = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const [x, y] = round % 2 === 0 ? [a, b] : [b, a];
    const viaLogout = round % 4 < 2;
    const session = await plantSession(cluster, x, "alice");
    const [refreshed, revoked] = await Promise.all([
      cluster.call(x, "/refresh", { json: { refresh_token: session.refresh } }),
      viaLogout
        ? cluster.call(y, "/logout", { method: "POST", token: session.access })
        : cluster.call(y, "/oauth/revoke", { form: { token: session.refresh } }),
    ]);
    assert.equal(revoked.status, 200, `round ${round}: ${JSON.stringify(revoked.body)}`);
    const refreshTokens = [session.refresh];
    const access = [session.access];
    if (refreshed.status === 200) {
      refreshWon++;
      refreshTokens.push(refreshed.body.refresh_token as string);
      access.push(refreshed.body.access_token as string);
    } else {
      assert.equal(refreshed.status, 400, JSON.stringify(refreshed.body));
      assert.deepEqual(refreshed.body, {
        msg: "Refresh token has been revoked",
        error: "invalid_grant",
      });
    }
    await assertRefreshRefused(cluster, refreshTokens, round);
    await assertFamilyClosed(cluster.store, session.refresh, access, round);
    minted.push(...access);
  }
  const propagation = await assertAccessRevoked(cluster, minted);
  return `refresh won ${refreshWon} of ${ROUNDS} races, all revoked within ${propagation} ms`;
}

async function refreshRacingReplay(cluster: Cluster): Promise<string> {
  const { a, b } = cluster;
  const minted: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [x, y] = round % 2 === 0 ? [a, b] : [b, a];
    const session = await plantSession(cluster, x, "alice");
    const answers = await Promise.all(
      [x, y].map((server) =>
        cluster.call(server, "/refresh", { json: { refresh_token: session.refresh } })
      ),
    );
    const won = answers.filter((answer) => answer.status === 200);
    const lost = answers.filter((answer) => answer.status !== 200);
    assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(answers)}`);
    assert.equal(lost[0].status, 400);
    assert.deepEqual(lost[0].body, {
      msg: "Refresh token was already used; its refresh family has been revoked",
      error: "invalid_grant",
    });
    const access = [session.access, won[0].body.access_token as string];
    await assertRefreshRefused(cluster, [won[0].body.refresh_token as string], round);
    await assertFamilyClosed(cluster.store, session.refresh, access, round);
    minted.push(...access);
  }
  const propagation = await assertAccessRevoked(cluster, minted);
  return `one of two replays won every round, all revoked within ${propagation} ms`;
}

for (const kind of ["sqlite", "postgres"] as const) {
  testNeeding(kind === "postgres" ? [POSTGRESQL] : [], {
    name: `${
      kind === "sqlite" ? "SQLite" : "PostgreSQL"
    }, two instances: a refresh racing a logout, a revocation or a replay of its token never outlives the revocation (${ROUNDS} rounds each)`,
    async fn(t) {
      await using cluster = await startCluster(kind, USERS);
      const figures: Record<string, string> = {};
      await t.step("/refresh ∥ /logout or /oauth/revoke", async () => {
        figures.revocation = await refreshRacingRevocation(cluster);
      });
      await t.step("/refresh ∥ /refresh of the same token", async () => {
        figures.replay = await refreshRacingReplay(cluster);
      });
      console.log(`${cluster.kind}: ${JSON.stringify(figures)}`);
    },
  });
}
