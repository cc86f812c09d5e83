/**
 * @module
 * Wrong passwords for one account sent all at once, over HTTPS on several connections: however
 * many arrive together, on one instance or on two sharing PostgreSQL, only the free failures are
 * checked (each attempt is counted before its hash, so none is in flight beyond them); the rest
 * answer 429 without hashing.
 */
import assert from "node:assert/strict";
import { PostgresStore } from "../src/store/postgres.ts";
import { startCluster } from "./helpers/cluster.ts";
import { createTestDatabase, POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { CountingHasher, startTestServer } from "./helpers/server.ts";
import { testCertificate } from "./helpers/tls.ts";

const FREE_FAILURES = 5;
/** Attempts checked beyond the free failures because they were in flight: none, by design. */
const IN_FLIGHT_BOUND = 0;
/** A first wait far longer than any burst, so that every attempt of a burst meets it. */
const ENV = {
  THROTTLE_FREE_FAILURES: String(FREE_FAILURES),
  THROTTLE_BASE_DELAY: "120",
  THROTTLE_MAX_DELAY: "120",
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "100000",
};
const BURSTS = [24, 96];
const ROUNDS = 3;
const CONNECTIONS = 8;

interface Target {
  url: string;
  client: Deno.HttpClient;
}

/** Sends `count` logins at once, spread over the targets; returns the statuses. */
async function burst(
  targets: Target[],
  count: number,
  body: (i: number) => Record<string, string>,
  minRetryAfter = 61,
): Promise<number[]> {
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const { url, client } = targets[i % targets.length];
    const res = await fetch(`${url}/login`, {
      method: "POST",
      client,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body(i)),
    });
    const answer = await res.json();
    if (res.status === 400) assert.deepEqual(answer, { msg: "Invalid credentials" });
    else if (res.status === 429) assert.ok(Number(res.headers.get("retry-after")) >= minRetryAfter);
    else assert.fail(`Unexpected ${res.status}: ${JSON.stringify(answer)}`);
    return res.status;
  }));
}

function count(statuses: number[], status: number): number {
  return statuses.filter((candidate) => candidate === status).length;
}

/** `CONNECTIONS` clients (each its own connection) to one URL. */
function connections(url: string, certPem: string): Target[] {
  return Array.from({ length: CONNECTIONS }, () => ({
    url,
    client: Deno.createHttpClient({ caCerts: [certPem] }),
  }));
}

async function raceOnOneInstance(
  t: Deno.TestContext,
  options: { store?: PostgresStore } = {},
): Promise<void> {
  const hasher = new CountingHasher();
  await using server = await startTestServer({
    users: Object.fromEntries(BURSTS.map((size) => [`real-${size}`, "password1"])),
    env: ENV,
    hasher,
    store: options.store,
  });
  const targets = connections(server.url, server.certPem);
  try {
    for (const size of BURSTS) {
      for (let round = 0; round < ROUNDS; round++) {
        // A real account in the first round, names nobody has in the others.
        const username = round === 0 ? `real-${size}` : `ghost-${size}-${round}`;
        await t.step(`${size} at once for "${username}"`, async () => {
          const before = hasher.checks;
          const statuses = await burst(
            targets,
            size,
            (i) => ({ username, password: `guess-${i}` }),
          );
          const checked = hasher.checks - before;
          assert.ok(checked <= FREE_FAILURES + IN_FLIGHT_BOUND, `${checked} passwords checked`);
          assert.equal(checked, FREE_FAILURES, "the free failures were all checked");
          assert.equal(count(statuses, 400), checked, "a 400 for each check");
          assert.equal(count(statuses, 429), size - checked);
        });
      }
    }
  } finally {
    for (const target of targets) target.client.close();
  }
}

Deno.test("POST /login checks only the free failures of 24 and 96 wrong passwords sent at once (SQLite)", async (t) => {
  await raceOnOneInstance(t);
});

testNeeding([POSTGRESQL], {
  name:
    "POST /login checks only the free failures of 24 and 96 wrong passwords sent at once (PostgreSQL)",
  async fn(t) {
    await using database = await createTestDatabase();
    await raceOnOneInstance(t, { store: await PostgresStore.open(database.url) });
  },
});

Deno.test("POST /login spends exactly an address's budget when 96 failures for different names arrive at once", async () => {
  const hasher = new CountingHasher();
  await using server = await startTestServer({
    env: { ...ENV, THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "10" },
    hasher,
  });
  const targets = connections(server.url, server.certPem);
  try {
    const statuses = await burst(
      targets,
      96,
      (i) => ({ username: `name-${i}`, password: "x" }),
      1,
    );
    assert.equal(hasher.checks, 10);
    assert.equal(count(statuses, 400), 10);
    assert.equal(count(statuses, 429), 86);
  } finally {
    for (const target of targets) target.client.close();
  }
});

testNeeding([POSTGRESQL], {
  name:
    "Two server processes on one PostgreSQL check only the free failures of 24 and 96 wrong passwords sent at once to both",
  async fn(t) {
    const users = Object.fromEntries(BURSTS.map((size) => [`real-${size}`, "password1"]));
    await using cluster = await startCluster("postgres", users, ENV);
    const urlA = cluster.a.url;
    const urlB = cluster.b.url;
    const { certPem } = await testCertificate();
    const targets = [...connections(urlA, certPem), ...connections(urlB, certPem)];
    try {
      // The real user of the first account logs in on A before the attack.
      const before = await fetch(`${urlA}/login`, {
        method: "POST",
        client: targets[0].client,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: `real-${BURSTS[0]}`, password: "password1" }),
      });
      const { device_token: device } = await before.json();
      assert.equal(before.status, 200);
      for (const size of BURSTS) {
        for (let round = 0; round < ROUNDS; round++) {
          const username = round === 0 ? `real-${size}` : `ghost-${size}-${round}`;
          await t.step(`${size} at once for "${username}", half to each`, async () => {
            const statuses = await burst(targets, size, (i) => ({ username, password: `g${i}` }));
            const checked = count(statuses, 400);
            assert.ok(checked <= FREE_FAILURES + IN_FLIGHT_BOUND, `${checked} passwords checked`);
            assert.equal(checked, FREE_FAILURES);
            assert.equal(count(statuses, 429), size - checked);
          });
        }
      }
      await t.step(
        "the real user's device token from A lets it in on B during the attack",
        async () => {
          const login = (deviceToken?: string) =>
            fetch(`${urlB}/login`, {
              method: "POST",
              client: targets[CONNECTIONS].client,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                username: `real-${BURSTS[0]}`,
                password: "password1",
                device_token: deviceToken,
              }),
            });
          const without = await login();
          assert.equal(without.status, 429);
          await without.body?.cancel();
          const withDevice = await login(device);
          assert.equal(withDevice.status, 200, JSON.stringify(await withDevice.json()));
        },
      );
    } finally {
      for (const target of targets) target.client.close();
    }
  },
});
