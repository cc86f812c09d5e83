/**
 * @module
 * Throttling of POST /login over real HTTPS: after the free failures an account gets 429 with
 * Retry-After even for the right password and nothing is hashed meanwhile, unknown names are
 * throttled as real ones, the right password after the wait resets the count, a client that spends
 * its per-minute budget is refused for any name, and the state survives a restart.
 */
import assert from "node:assert/strict";
import { CountingHasher, login, startTestServer, type TestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { sleep } from "./helpers/wait.ts";

const USERS = { user1: "password1" };
const THROTTLED_MSG = "Too many failed login attempts; try again later";

/** Small thresholds: the 3rd consecutive failure blocks the account for 1 s (then 2 s, 4 s max). */
const SMALL = {
  THROTTLE_FREE_FAILURES: "3",
  THROTTLE_BASE_DELAY: "1",
  THROTTLE_MAX_DELAY: "4",
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "1000",
};

/** The same thresholds with a 10 s first block, for tests that never wait it out (no CI flakes). */
const STEADY = { ...SMALL, THROTTLE_BASE_DELAY: "10", THROTTLE_MAX_DELAY: "40" };

async function fail(server: TestServer, username: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const { res, body } = await login(server, username, `wrong-${i}`);
    assert.equal(res.status, 400, `failure ${i + 1} for "${username}": ${JSON.stringify(body)}`);
    assert.deepEqual(body, { msg: "Invalid credentials" });
  }
}

/** Asserts a 429 with the JSON shape and a whole-second Retry-After of at least 1; returns it. */
function assertThrottled(res: Response, body: Record<string, unknown>, maxSeconds: number): number {
  assert.equal(res.status, 429, JSON.stringify(body));
  assert.deepEqual(body, { msg: THROTTLED_MSG });
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  const retryAfter = res.headers.get("retry-after") ?? "";
  assert.match(retryAfter, /^\d+$/);
  const seconds = Number(retryAfter);
  assert.ok(seconds >= 1 && seconds <= maxSeconds, `Retry-After ${seconds}`);
  return seconds;
}

Deno.test("POST /login answers 429 with Retry-After after 3 failures, even with the right password, and hashes nothing while throttled", async () => {
  const hasher = new CountingHasher();
  await using server = await startTestServer({ users: USERS, env: STEADY, hasher });
  await fail(server, "user1", 3);
  assert.ok(hasher.checks >= 3, "failed logins check passwords");

  const checks = hasher.checks;
  const right = await login(server, "user1", "password1");
  assertThrottled(right.res, right.body, 10);
  const wrong = await login(server, "user1", "wrong");
  assertThrottled(wrong.res, wrong.body, 10);
  assert.equal(hasher.checks, checks, "no password is hashed while throttled");
});

Deno.test("POST /login throttles an unknown username exactly like a real one", async () => {
  await using server = await startTestServer({ users: USERS, env: STEADY });
  await fail(server, "user1", 2);
  await fail(server, "ghost", 2);
  // The 3rd failure is still answered 400 for both, then both are blocked.
  await fail(server, "user1", 1);
  await fail(server, "ghost", 1);
  const real = await login(server, "user1", "password1");
  const unknown = await login(server, "ghost", "password1");
  assertThrottled(real.res, real.body, 10);
  assertThrottled(unknown.res, unknown.body, 10);
  assert.equal(unknown.res.status, real.res.status);
  assert.deepEqual(unknown.body, real.body);
  // Waits are whole seconds from each block's start: a second may tick between the two.
  const retryAfter = (res: Response) => Number(res.headers.get("retry-after"));
  assert.ok(Math.abs(retryAfter(unknown.res) - retryAfter(real.res)) <= 1);
  const names = (res: Response) => [...res.headers.keys()].filter((name) => name !== "date");
  assert.deepEqual(names(unknown.res), names(real.res));
});

Deno.test("POST /login lets the right password in after Retry-After seconds and then resets the failure count", async () => {
  await using server = await startTestServer({ users: USERS, env: SMALL });
  await fail(server, "user1", 3);
  const throttled = await login(server, "user1", "password1");
  const seconds = assertThrottled(throttled.res, throttled.body, 1);

  const retryAfterMs = seconds * 1000;
  await sleep(retryAfterMs);
  const ok = await login(server, "user1", "password1");
  assert.equal(ok.res.status, 200, JSON.stringify(ok.body));
  assert.equal(typeof ok.body.access_token, "string");

  // Without the reset this would be failure 4 (a 2 s block) and the next login would get 429.
  await fail(server, "user1", 1);
  const again = await login(server, "user1", "password1");
  assert.equal(again.res.status, 200, JSON.stringify(again.body));
});

Deno.test("POST /login answers 429 for any username once one client spends its per-minute failure budget", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { ...STEADY, THROTTLE_FREE_FAILURES: "100", THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "5" },
  });
  for (const name of ["alice", "bob", "carol", "dave", "user1"]) await fail(server, name, 1);

  for (const name of ["user1", "erin", "alice"]) {
    const { res, body } = await login(server, name, name === "user1" ? "password1" : "x");
    assertThrottled(res, body, 60);
  }
});

Deno.test("POST /login throttle state survives a server restart", async () => {
  await using dir = await tempDir();
  const env = { ...STEADY, THROTTLE_BASE_DELAY: "30", THROTTLE_MAX_DELAY: "60" };
  {
    await using first = await startTestServer({ users: USERS, env, dir: dir.path });
    await fail(first, "user1", 3);
    const { res, body } = await login(first, "user1", "password1");
    assertThrottled(res, body, 30);
  }
  await using second = await startTestServer({ env, dir: dir.path });
  const { res, body } = await login(second, "user1", "password1");
  assertThrottled(res, body, 30);
});
