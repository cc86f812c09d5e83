/**
 * Logins beyond the places in flight, over HTTPS: while the checks of earlier attempts hold every
 * place of an account (the free failures), later logins wait for them instead of being refused,
 * up to `THROTTLE_IN_FLIGHT_WAIT`; when that wait runs out the 429 says that attempts are in
 * progress, never that logins failed, and is audited as such. The checks are held open by a
 * hasher that waits for the test, so that attempts are in flight together whatever the machine's
 * speed. Places held by an instance killed during its checks lapse, and the account works again
 * on the other instance.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type PasswordCheck, Passwords } from "../src/auth/accounts/passwords.ts";
import type { ThrottleRecord } from "../src/store/store.ts";
import { startCluster } from "./helpers/cluster.ts";
import { CookieBrowser, registerClient } from "./helpers/oidc.ts";
import { CountingHasher, startTestServer, type TestServer } from "./helpers/server.ts";
import { sleep, sleepUntil, waitFor } from "./helpers/wait.ts";

const PASSWORD = "worker-password-1";
const FREE_FAILURES = 5;
const IN_FLIGHT_MESSAGE = "Too many login attempts in progress; try again shortly";
/** PBKDF2 iterations of the account whose checks the killed instance runs: several times production's. */
const SLOW_ITERATIONS = 3_000_000;

/** A hasher whose checks start at once but end only when the test opens the gate. */
class GatedHasher extends CountingHasher {
  started = 0;
  #open!: () => void;
  #gate = new Promise<void>((resolve) => this.#open = resolve);

  /** Lets every check, held or to come, end. */
  open(): void {
    this.#open();
  }

  override async verify(password: string, stored: string): Promise<PasswordCheck> {
    this.started++;
    await this.#gate;
    return await super.verify(password, stored);
  }
}

type Endpoint = "/login" | "password grant";

/** One correct login at `endpoint`; returns the status and the words of a refusal. */
async function correctLogin(
  server: TestServer,
  endpoint: Endpoint,
): Promise<{ status: number; message?: string; retryAfter?: string | null }> {
  const res = endpoint === "/login"
    ? await fetch(`${server.url}/login`, {
      method: "POST",
      client: server.client,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "worker", password: PASSWORD }),
    })
    : await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      client: server.client,
      body: new URLSearchParams({ grant_type: "password", username: "worker", password: PASSWORD }),
    });
  const body = await res.json();
  if (res.status === 200) return { status: 200 };
  if (endpoint === "/login") assert.deepEqual(Object.keys(body), ["msg"]);
  else assert.equal(body.error, "temporarily_unavailable");
  return {
    status: res.status,
    message: endpoint === "/login" ? body.msg : body.error_description,
    retryAfter: res.headers.get("retry-after"),
  };
}

/** The audit lines of `event` the server wrote so far. */
function audited(server: TestServer, event: string): Record<string, unknown>[] {
  return server.logs.filter((line) => line.msg === "audit" && line.event === event);
}

for (const endpoint of ["/login", "password grant"] as const) {
  Deno.test(`${endpoint}: 12 correct logins of one account at once wait while the first ${FREE_FAILURES} are checked, then all answer 200`, async () => {
    const hasher = new GatedHasher();
    await using server = await startTestServer({ users: { worker: PASSWORD }, hasher });
    const answers = Array.from({ length: 12 }, () => correctLogin(server, endpoint));
    let answered = 0;
    for (const answer of answers) answer.then(() => answered++, () => answered++);
    await waitFor("the first checks to start", () => hasher.started === FREE_FAILURES);
    await sleep(1000);
    assert.equal(hasher.started, FREE_FAILURES, "no more checks than places");
    assert.equal(answered, 0, "the others wait instead of being refused");
    hasher.open();
    assert.deepEqual(
      (await Promise.all(answers)).map((answer) => answer.status),
      Array(12).fill(200),
    );
    assert.equal(hasher.checks, 12);
    assert.deepEqual(audited(server, "login_throttled"), []);
    assert.deepEqual(audited(server, "login_failed"), []);
  });

  Deno.test(`${endpoint}: with THROTTLE_IN_FLIGHT_WAIT=0, correct logins beyond the places in flight get a 429 that claims no failures`, async () => {
    const hasher = new GatedHasher();
    await using server = await startTestServer({
      users: { worker: PASSWORD },
      hasher,
      env: { THROTTLE_IN_FLIGHT_WAIT: "0" },
    });
    const held = Array.from({ length: FREE_FAILURES }, () => correctLogin(server, endpoint));
    await waitFor("the first checks to start", () => hasher.started === FREE_FAILURES);
    const refused = await Promise.all(
      Array.from({ length: 7 }, () => correctLogin(server, endpoint)),
    );
    for (const answer of refused) {
      assert.deepEqual(answer, { status: 429, message: IN_FLIGHT_MESSAGE, retryAfter: "1" });
    }
    hasher.open();
    assert.deepEqual((await Promise.all(held)).map((answer) => answer.status), Array(5).fill(200));
    const throttled = audited(server, "login_throttled");
    assert.equal(throttled.length, 7);
    assert.ok(throttled.every((line) => line.reason === "in_flight" && line.subject === "worker"));
    assert.deepEqual(audited(server, "login_failed"), []);
    assert.deepEqual(audited(server, "throttle_entered"), []);
    // Once the checks are over, the account takes logins again.
    assert.equal((await correctLogin(server, endpoint)).status, 200);
  });
}

Deno.test("The sign-in page refused while attempts are in flight says so, and claims no failed sign-ins", async () => {
  const hasher = new GatedHasher();
  await using server = await startTestServer({
    users: { worker: PASSWORD },
    hasher,
    env: { THROTTLE_IN_FLIGHT_WAIT: "0" },
  });
  const app = await registerClient(server, {
    clientId: "app",
    redirectUris: ["https://app.example/callback"],
  });
  const browser = new CookieBrowser(server);
  const fields = await browser.signInPageFor(app);
  const held = Array.from({ length: FREE_FAILURES }, () => correctLogin(server, "/login"));
  await waitFor("the first checks to start", () => hasher.started === FREE_FAILURES);
  const refused = await browser.signIn(fields, "worker", PASSWORD);
  const html = await refused.text();
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.match(html, /Too many sign-in attempts in progress; try again in a moment/);
  assert.doesNotMatch(html, /failed/i);
  hasher.open();
  await Promise.all(held);
});

Deno.test("An instance killed during its checks holds the account's places only until they lapse; then the other instance logs the account in", async () => {
  // A 1 s wait, so that the refusals while the places are held come quickly.
  await using cluster = await startCluster("sqlite", {}, { THROTTLE_IN_FLIGHT_WAIT: "1" });
  // A hash far dearer than production's, so that A is surely killed during the checks.
  await cluster.store.addUser("worker", await new Passwords(SLOW_ITERATIONS).hash(PASSWORD));
  const login = (server: typeof cluster.a) =>
    cluster.call(server, "/login", { json: { username: "worker", password: PASSWORD } });
  const read = () =>
    cluster.store.updateThrottles(["account:worker"], (current) => ({
      writes: {},
      result: current.get("account:worker"),
    }));
  const onA = Array.from({ length: FREE_FAILURES }, () => login(cluster.a).catch(() => undefined));
  const held = await waitFor<ThrottleRecord>(
    "five attempts in flight on A",
    async () => {
      const record = await read();
      return record?.reservedUntil?.length === FREE_FAILURES && record;
    },
    { intervalMs: 20 },
  );
  cluster.a.signal("SIGKILL");
  await cluster.a.exitedWithin();
  await Promise.all(onA);
  const left = (await read())?.reservedUntil ?? [];
  assert.ok(left.length > 0, "A left places behind");
  assert.ok(Math.max(...left) <= Math.max(...held.reservedUntil!));

  // Before they lapse, B has only the places A did not leave: with all five left, none.
  const before = await Promise.all(Array.from({ length: 8 }, () => login(cluster.b)));
  const refused = before.filter((answer) => answer.status === 429);
  for (const answer of refused) assert.deepEqual(answer.body, { msg: IN_FLIGHT_MESSAGE });
  assert.equal(refused.length + count(before, 200), 8);
  if (left.length === FREE_FAILURES) assert.equal(refused.length, 8);

  await sleepUntil(Math.max(...left));
  // All five places are free again (more at once could outlast the 1 s wait on a slow machine).
  const after = await Promise.all(Array.from({ length: FREE_FAILURES }, () => login(cluster.b)));
  assert.equal(count(after, 200), FREE_FAILURES, "the places lapsed");
  const throttled = cluster.b.logs.filter((line) => line.event === "login_throttled");
  assert.equal(throttled.length, refused.length);
  assert.ok(throttled.every((line) => line.reason === "in_flight"));
  assert.deepEqual(cluster.b.logs.filter((line) => line.event === "login_failed"), []);
});

function count(answers: { status: number }[], status: number): number {
  return answers.filter((answer) => answer.status === status).length;
}
