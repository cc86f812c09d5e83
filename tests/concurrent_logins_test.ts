/**
 * Correct logins of one account made at once, as a service's workers or a test suite make them,
 * without device tokens: every one succeeds, at `POST /login` and at the password grant, on one
 * instance and on two sharing PostgreSQL, with the default throttle (5 free failures per
 * account, 30 failures per address and minute). The throttle still holds against guessing: of 24
 * wrong passwords sent at once only the free failures are checked (counted as
 * throttle_race_test.ts counts them: hashes run, or 400 answers), and a 429 "Too many failed
 * login attempts" comes only after that many failures really happened; a run with fewer failures
 * than that answers no 429 at all and writes no `login_throttled` to the audit trail.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Cluster, startCluster } from "./helpers/cluster.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { CountingHasher, startTestServer, type TestServer } from "./helpers/server.ts";
import { testCertificate } from "./helpers/tls.ts";

/** The default `THROTTLE_FREE_FAILURES`, which these tests keep. */
const FREE_FAILURES = 5;
/**
 * The first wait after the free failures, far longer than any burst, so that every attempt of a
 * burst of wrong passwords meets it; the account's other settings keep their defaults.
 */
const ENV = {
  THROTTLE_BASE_DELAY: "120",
  THROTTLE_MAX_DELAY: "120",
  // These bursts are about the account's budget: the rounds of one test share a client address,
  // whose budget (30 failures a minute by default) their real failures would otherwise close.
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "1000",
};
const PASSWORD = "worker-password-1";
const CORRECT_BURSTS = [8, 32];
const WRONG_BURST = 24;
/**
 * PBKDF2 iterations of the in-process server: a check takes milliseconds, so that logins sent
 * together are in flight together, as at production cost (the two instances use that).
 */
const OVERLAPPING_ITERATIONS = 100_000;
/** Clients, each with a connection of its own, per instance. */
const CONNECTIONS = 8;

type Endpoint = "/login" | "password grant";
const ENDPOINTS: Endpoint[] = ["/login", "password grant"];

/** Where logins go: a URL and a client with its own connection. */
interface Target {
  url: string;
  client: Deno.HttpClient;
}

/** `CONNECTIONS` clients per URL, each with a connection of its own. */
function connections(urls: string[], certPem: string): Target[] {
  return urls.flatMap((url) =>
    Array.from({ length: CONNECTIONS }, () => ({
      url,
      client: Deno.createHttpClient({ caCerts: [certPem] }),
    }))
  );
}

/** One login at an endpoint; returns the status, checking each answer's shape. */
async function attempt(
  target: Target,
  endpoint: Endpoint,
  username: string,
  password: string,
): Promise<number> {
  const res = endpoint === "/login"
    ? await fetch(`${target.url}/login`, {
      method: "POST",
      client: target.client,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    })
    : await fetch(`${target.url}/oauth/token`, {
      method: "POST",
      client: target.client,
      body: new URLSearchParams({ grant_type: "password", username, password }),
    });
  const body = await res.json();
  if (res.status === 200) assert.equal(typeof body.access_token, "string");
  else if (res.status === 400) {
    assert.equal(
      endpoint === "/login" ? body.msg : body.error,
      endpoint === "/login" ? "Invalid credentials" : "invalid_grant",
    );
  } else if (res.status === 429) {
    assert.ok(Number(res.headers.get("retry-after")) >= 1, "429 says when to retry");
  } else assert.fail(`Unexpected ${res.status}: ${JSON.stringify(body)}`);
  return res.status;
}

/** Sends the passwords at once, spread over the targets; returns the statuses by password. */
async function burst(
  targets: Target[],
  endpoint: Endpoint,
  username: string,
  passwords: string[],
): Promise<{ correct: number[]; wrong: number[] }> {
  const statuses = await Promise.all(
    passwords.map((password, i) =>
      attempt(targets[i % targets.length], endpoint, username, password)
    ),
  );
  return {
    correct: statuses.filter((_, i) => passwords[i] === PASSWORD),
    wrong: statuses.filter((_, i) => passwords[i] !== PASSWORD),
  };
}

/** `correct` right passwords and `wrong` wrong ones, interleaved. */
function passwords(correct: number, wrong: number): string[] {
  const list: string[] = [];
  for (let i = 0; i < Math.max(correct, wrong); i++) {
    if (i < correct) list.push(PASSWORD);
    if (i < wrong) list.push(`guess-${i}`);
  }
  return list;
}

function count(statuses: number[], status: number): number {
  return statuses.filter((candidate) => candidate === status).length;
}

/** Summarises statuses as `{ 200: n, 429: m }` for messages. */
function summary(statuses: number[]): string {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return JSON.stringify(counts);
}

/** The audit events of a kind an in-process server logged so far. */
function audited(server: TestServer, event: string): number {
  return server.logs.filter((line) => line.msg === "audit" && line.event === event).length;
}

/** Closes every target's client. */
function close(targets: Target[]): void {
  for (const target of targets) target.client.close();
}

async function withServer(
  fn: (server: TestServer, targets: Target[], hasher: CountingHasher) => Promise<void>,
  users: Record<string, string>,
): Promise<void> {
  const hasher = new CountingHasher(OVERLAPPING_ITERATIONS);
  await using server = await startTestServer({ users, env: ENV, hasher });
  const targets = connections([server.url], server.certPem);
  try {
    await fn(server, targets, hasher);
  } finally {
    close(targets);
  }
}

Deno.test(`${CORRECT_BURSTS.join(" and ")} correct logins of one account at once, without device tokens, all answer 200 at POST /login and at the password grant`, async (t) => {
  await withServer(async (server, targets, hasher) => {
    for (const endpoint of ENDPOINTS) {
      for (const size of CORRECT_BURSTS) {
        await t.step(`${size} at once at ${endpoint}`, async () => {
          const checks = hasher.checks;
          const { correct } = await burst(targets, endpoint, "worker", passwords(size, 0));
          assert.equal(count(correct, 200), size, summary(correct));
          assert.equal(hasher.checks - checks, size, "each one's password was checked");
        });
      }
    }
    assert.equal(audited(server, "login_throttled"), 0, "nothing was throttled");
    assert.equal(audited(server, "login_failed"), 0, "nothing failed");
  }, { worker: PASSWORD });
});

Deno.test(`${WRONG_BURST} wrong passwords for one account at once still check only the ${FREE_FAILURES} free failures, at POST /login and at the password grant`, async (t) => {
  await withServer(async (_server, targets, hasher) => {
    for (const endpoint of ENDPOINTS) {
      await t.step(endpoint, async () => {
        const username = endpoint === "/login" ? "target-1" : "target-2";
        const checks = hasher.checks;
        const { wrong } = await burst(targets, endpoint, username, passwords(0, WRONG_BURST));
        assert.equal(hasher.checks - checks, FREE_FAILURES, "passwords checked");
        assert.equal(count(wrong, 400), FREE_FAILURES, summary(wrong));
        assert.equal(count(wrong, 429), WRONG_BURST - FREE_FAILURES, summary(wrong));
      });
    }
  }, { "target-1": PASSWORD, "target-2": PASSWORD });
});

/**
 * Sends 8 correct and {@linkcode FREE_FAILURES} - 1 wrong passwords for "mixed-1" (`/login`) or
 * "mixed-2" (password grant) at once: every correct one is let in and every wrong one is a 400.
 */
async function mixedBurstPasses(targets: Target[], endpoint: Endpoint): Promise<void> {
  const username = endpoint === "/login" ? "mixed-1" : "mixed-2";
  const { correct, wrong } = await burst(
    targets,
    endpoint,
    username,
    passwords(8, FREE_FAILURES - 1),
  );
  assert.equal(count(correct, 200), 8, `correct: ${summary(correct)}`);
  assert.equal(count(wrong, 400), FREE_FAILURES - 1, `wrong: ${summary(wrong)}`);
}

Deno.test(`8 correct and ${FREE_FAILURES - 1} wrong passwords for one account at once: no 429, since fewer than ${FREE_FAILURES} failed`, async (t) => {
  await withServer(async (server, targets) => {
    for (const endpoint of ENDPOINTS) {
      await t.step(endpoint, () => mixedBurstPasses(targets, endpoint));
    }
    assert.equal(audited(server, "login_throttled"), 0, "nothing was throttled");
  }, { "mixed-1": PASSWORD, "mixed-2": PASSWORD });
});

Deno.test(`8 correct and ${WRONG_BURST} wrong passwords for one account at once: a 429 comes only after ${FREE_FAILURES} failures really happened`, async () => {
  await withServer(async (server, targets) => {
    const problems: string[] = [];
    for (let round = 0; round < 3; round++) {
      const { correct, wrong } = await burst(
        targets,
        "/login",
        `contested-${round}`,
        passwords(8, WRONG_BURST),
      );
      const refused = count(correct, 429) + count(wrong, 429);
      const failed = count(wrong, 400);
      if (refused > 0 && failed < FREE_FAILURES) {
        problems.push(
          `round ${round}: ${refused} answered 429 after only ${failed} failures (correct: ${
            summary(correct)
          }, wrong: ${summary(wrong)})`,
        );
      }
    }
    assert.equal(
      audited(server, "login_throttled"),
      server.logs.filter((line) => line.msg === "request" && line.status === 429).length,
      "each 429 is audited once",
    );
    assert.deepEqual(problems, []);
  }, { "contested-0": PASSWORD, "contested-1": PASSWORD, "contested-2": PASSWORD });
});

/** The same bursts against two instances sharing PostgreSQL, half to each. */
async function onCluster(t: Deno.TestContext, cluster: Cluster): Promise<void> {
  const { certPem } = await testCertificate();
  const targets = connections([cluster.a.url, cluster.b.url], certPem);
  try {
    for (const endpoint of ENDPOINTS) {
      for (const size of CORRECT_BURSTS) {
        await t.step(`${size} correct at once at ${endpoint}, half to each`, async () => {
          const { correct } = await burst(targets, endpoint, "worker", passwords(size, 0));
          assert.equal(count(correct, 200), size, summary(correct));
        });
      }
      await t.step(
        `8 correct and ${FREE_FAILURES - 1} wrong at ${endpoint}: no 429`,
        () => mixedBurstPasses(targets, endpoint),
      );
      await t.step(`${WRONG_BURST} wrong at ${endpoint}: only the free failures`, async () => {
        const username = endpoint === "/login" ? "target-1" : "target-2";
        const { wrong } = await burst(targets, endpoint, username, passwords(0, WRONG_BURST));
        assert.equal(count(wrong, 400), FREE_FAILURES, summary(wrong));
        assert.equal(count(wrong, 429), WRONG_BURST - FREE_FAILURES, summary(wrong));
      });
    }
  } finally {
    close(targets);
  }
  const throttled = [cluster.a, cluster.b].flatMap((server) =>
    server.logs.filter((line) => line.event === "login_throttled")
  );
  assert.equal(
    throttled.filter((line) => !/^target-/.test(String(line.subject))).length,
    0,
    "only the guessed accounts were throttled",
  );
}

testNeeding([POSTGRESQL], {
  name:
    "Two server processes on one PostgreSQL: correct logins of one account at once all answer 200; wrong ones still check only the free failures",
  async fn(t) {
    const users = Object.fromEntries(
      ["worker", "mixed-1", "mixed-2", "target-1", "target-2"].map((name) => [name, PASSWORD]),
    );
    await using cluster = await startCluster("postgres", users, ENV);
    await onCluster(t, cluster);
  },
});
