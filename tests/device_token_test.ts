/**
 * @module
 * Device tokens over real HTTPS: an attacker behind the same trusted proxy and the same client
 * address as a real user exhausts the account's and the address's budgets; the real user's own
 * device, another user at another address, and the attacker each get what they should.
 */
import assert from "node:assert/strict";
import { CountingHasher, startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { user1: "password1", user2: "password2" };
/** The real users' right credentials. */
const USER1 = { username: "user1", password: "password1" };
const USER2 = { username: "user2", password: "password2" };
const DEVICE_FAILURES = 2;
const ENV = {
  TRUSTED_PROXIES: "127.0.0.1",
  THROTTLE_FREE_FAILURES: "3",
  THROTTLE_BASE_DELAY: "120",
  THROTTLE_MAX_DELAY: "120",
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "5",
  THROTTLE_DEVICE_FAILURES: String(DEVICE_FAILURES),
  DEVICE_TOKEN_TTL: "86400",
};
const NAT = "198.51.100.7";
const ELSEWHERE = "198.51.100.8";
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}$/;

interface Attempt {
  username: string;
  password: string;
  /** The client address the proxy reports. */
  from: string;
  /** Sent as the `device_token` field. */
  deviceToken?: string;
  /** Sent as the `__Host-device` cookie. */
  cookie?: string;
}

async function login(
  server: TestServer,
  attempt: Attempt,
): Promise<{ res: Response; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-forwarded-for": attempt.from,
  };
  if (attempt.cookie) headers.cookie = `theme=dark; __Host-device=${attempt.cookie}`;
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers,
    body: JSON.stringify({
      username: attempt.username,
      password: attempt.password,
      ...(attempt.deviceToken !== undefined && { device_token: attempt.deviceToken }),
    }),
  });
  return { res, body: await res.json() };
}

async function status(server: TestServer, attempt: Attempt): Promise<number> {
  return (await login(server, attempt)).res.status;
}

/** Logs in with the right password and returns the device token of the answer. */
async function deviceTokenOf(server: TestServer, attempt: Attempt): Promise<string> {
  const { res, body } = await login(server, attempt);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.match(body.device_token as string, TOKEN_FORMAT);
  return body.device_token as string;
}

/** The attacker at the NAT: fails on user1 until it is throttled, then sprays other names. */
async function attack(server: TestServer): Promise<void> {
  for (let i = 0; i < 3; i++) {
    assert.equal(
      await status(server, { username: "user1", password: `guess${i}`, from: NAT }),
      400,
    );
  }
  for (let i = 0; i < 2; i++) {
    assert.equal(await status(server, { username: `victim${i}`, password: "x", from: NAT }), 400);
  }
  // Both budgets are spent: the account for everyone, the address for every name.
  assert.equal(await status(server, { ...USER1, from: NAT }), 429);
  assert.equal(
    await status(server, { ...USER1, from: ELSEWHERE }),
    429,
  );
  assert.equal(await status(server, { ...USER2, from: NAT }), 429);
}

Deno.test("POST /login answers a device token in the body and in a __Host- cookie that scripts and other sites cannot use", async () => {
  await using server = await startTestServer({ users: USERS, env: ENV });
  const { res, body } = await login(server, { ...USER1, from: NAT });
  assert.equal(res.status, 200);
  const token = body.device_token as string;
  assert.match(token, TOKEN_FORMAT);
  assert.equal(
    res.headers.get("set-cookie"),
    `__Host-device=${token}; Max-Age=86400; Path=/; Secure; HttpOnly; SameSite=Strict`,
  );
  // A failed login sets no cookie and says nothing of devices.
  const failed = await login(server, { username: "user1", password: "nope", from: NAT });
  assert.equal(failed.res.headers.get("set-cookie"), null);
  assert.deepEqual(failed.body, { msg: "Invalid credentials" });
  // Logging in again with the token keeps the device and renews it; without, a new device.
  const again = await deviceTokenOf(server, { ...USER1, from: NAT, deviceToken: token });
  assert.equal(again.split(".")[0], token.split(".")[0]);
  const other = await deviceTokenOf(server, { ...USER1, from: NAT });
  assert.notEqual(other.split(".")[0], token.split(".")[0]);
});

Deno.test("POST /login during an attack: the real user's device gets in at once, another user elsewhere behind the proxy gets in, the attacker gets 429 without a hash", async () => {
  const hasher = new CountingHasher();
  await using server = await startTestServer({ users: USERS, env: ENV, hasher });
  const device = await deviceTokenOf(server, { ...USER1, from: NAT });
  await attack(server);

  // (a) The real user, at the attacker's address, with the device token in the body or cookie.
  const viaBody = await login(server, { ...USER1, from: NAT, deviceToken: device });
  assert.equal(viaBody.res.status, 200, JSON.stringify(viaBody.body));
  const viaCookie = await login(server, {
    ...USER1,
    from: NAT,
    cookie: viaBody.body.device_token as string,
  });
  assert.equal(viaCookie.res.status, 200, JSON.stringify(viaCookie.body));
  const greeting = await fetch(`${server.url}/hello`, {
    client: server.client,
    headers: { authorization: `Bearer ${viaCookie.body.access_token}` },
  });
  assert.equal(greeting.status, 200);
  await greeting.body?.cancel();

  // (b) Another user behind the same proxy at another client address.
  assert.equal(
    await status(server, { ...USER2, from: ELSEWHERE }),
    200,
  );

  // (c) The attacker still gets 429, hashing nothing, whatever it tries.
  const checks = hasher.checks;
  const tampered = `${device.slice(0, -1)}${device.endsWith("A") ? "B" : "A"}`;
  const attempts: Attempt[] = [
    { username: "user1", password: "guess9", from: NAT },
    { username: "victim9", password: "x", from: NAT },
    { username: "user1", password: "guess9", from: ELSEWHERE },
    // user1's token for another account, a tampered token, a token that is not a string.
    { username: "user2", password: "guess9", from: NAT, deviceToken: device },
    { username: "user1", password: "guess9", from: NAT, deviceToken: tampered },
    { username: "user1", password: "guess9", from: NAT, cookie: "garbage" },
  ];
  for (const attempt of attempts) {
    const { res, body } = await login(server, attempt);
    assert.equal(res.status, 429, JSON.stringify(attempt));
    assert.deepEqual(body, { msg: "Too many failed login attempts; try again later" });
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
  }
  const wrongType = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json", "x-forwarded-for": NAT },
    body: JSON.stringify({ username: "user1", password: "x", device_token: { forged: true } }),
  });
  assert.equal(wrongType.status, 429);
  await wrongType.body?.cancel();
  assert.equal(hasher.checks, checks, "no password was hashed for the attacker");
});

Deno.test("POST /login counts a device's failures on the device alone, and locks out a device that fails too often", async () => {
  const hasher = new CountingHasher();
  await using server = await startTestServer({ users: USERS, env: ENV, hasher });
  const device = await deviceTokenOf(server, { ...USER1, from: ELSEWHERE });
  // The device's failures do not touch the account or the address: 3 free failures remain.
  const withDevice = { username: "user1", from: NAT, deviceToken: device };
  assert.equal(await status(server, { ...withDevice, password: "typo1" }), 400);
  await attack(server);
  assert.equal(await status(server, { ...withDevice, password: "typo2" }), 400);
  // Budget spent: the device now counts for nothing, and the account is throttled.
  const checks = hasher.checks;
  assert.equal(await status(server, { ...withDevice, password: "guess" }), 429);
  assert.equal(await status(server, { ...withDevice, password: "password1" }), 429);
  assert.equal(hasher.checks, checks);
  // Another user's device at the blocked address is not affected.
  const second = await deviceTokenOf(server, { ...USER2, from: ELSEWHERE });
  assert.equal(
    await status(server, { ...USER2, from: NAT, deviceToken: second }),
    200,
  );
});

Deno.test("POST /login with one device token checks only the device's budget of 24 wrong passwords sent at once", async () => {
  for (let round = 0; round < 3; round++) {
    const hasher = new CountingHasher();
    await using server = await startTestServer({ users: USERS, env: ENV, hasher });
    const device = await deviceTokenOf(server, { ...USER1, from: NAT });
    await attack(server);
    const before = hasher.checks;
    const statuses = await Promise.all(
      Array.from(
        { length: 24 },
        (_, i) =>
          status(server, { username: "user1", password: `g${i}`, from: NAT, deviceToken: device }),
      ),
    );
    assert.equal(hasher.checks - before, DEVICE_FAILURES, `round ${round}`);
    assert.equal(statuses.filter((code) => code === 400).length, DEVICE_FAILURES);
    assert.equal(statuses.filter((code) => code === 429).length, 24 - DEVICE_FAILURES);
  }
});

Deno.test("POST /oauth/token password grant takes and returns device_token, and lets the device in during an attack", async () => {
  await using server = await startTestServer({ users: USERS, env: ENV });
  const grant = async (fields: Record<string, string>) => {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      client: server.client,
      headers: { "x-forwarded-for": NAT },
      body: new URLSearchParams({ grant_type: "password", client_id: "cli", ...fields }),
    });
    return { res, body: await res.json() as Record<string, unknown> };
  };
  const first = await grant({ username: "user1", password: "password1" });
  assert.equal(first.res.status, 200, JSON.stringify(first.body));
  const device = first.body.device_token as string;
  assert.match(device, TOKEN_FORMAT);
  assert.match(first.res.headers.get("set-cookie") ?? "", /^__Host-device=/);
  await attack(server);
  const blocked = await grant({ username: "user1", password: "password1" });
  assert.equal(blocked.res.status, 429);
  assert.equal(blocked.body.error, "temporarily_unavailable");
  const allowed = await grant({ ...USER1, device_token: device });
  assert.equal(allowed.res.status, 200, JSON.stringify(allowed.body));
});
