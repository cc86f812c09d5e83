/**
 * @module
 * The client address over real HTTPS: the test client connects from 127.0.0.1 and, where
 * 127.0.0.1 is a trusted proxy, speaks for the clients behind it.
 */
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "./helpers/server.ts";

/** A budget of 3 failed logins per address; accounts are never the limit here. */
const BUDGET = {
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "3",
  THROTTLE_FREE_FAILURES: "100",
};

/** A failed login for a fresh name with the given extra headers; returns the status. */
async function attempt(server: TestServer, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ username: `name-${crypto.randomUUID()}`, password: "wrong" }),
  });
  await res.body?.cancel();
  return res.status;
}

/** The remote addresses the access log recorded for /login, in order. */
function loggedAddresses(server: TestServer): unknown[] {
  return server.logs
    .filter((line) => line.msg === "request" && line.path === "/login")
    .map((line) => line.remote_address);
}

for (const trusted of ["", "10.0.0.0/8, 2001:db8::/32"]) {
  Deno.test(`POST /login ignores spoofed X-Forwarded-For and Forwarded from a peer that is not a trusted proxy (TRUSTED_PROXIES="${trusted}")`, async () => {
    await using server = await startTestServer({ env: { ...BUDGET, TRUSTED_PROXIES: trusted } });
    const spoofs: Record<string, string>[] = [
      { "x-forwarded-for": "198.51.100.1" },
      { forwarded: "for=198.51.100.2" },
      { "x-forwarded-for": "10.0.0.1, 198.51.100.3", forwarded: 'for="[2001:db8::3]"' },
    ];
    for (const headers of spoofs) assert.equal(await attempt(server, headers), 400);
    // Every one of them was counted against the peer: a fourth address changes nothing.
    assert.equal(await attempt(server, { "x-forwarded-for": "198.51.100.4" }), 429);
    assert.equal(await attempt(server), 429);
    assert.deepEqual(loggedAddresses(server), Array(5).fill("127.0.0.1"));
  });
}

Deno.test("POST /login behind a trusted proxy budgets each client address that X-Forwarded-For names", async () => {
  await using server = await startTestServer({
    env: { ...BUDGET, TRUSTED_PROXIES: "127.0.0.1" },
  });
  const a = { "x-forwarded-for": "198.51.100.1" };
  for (let i = 0; i < 3; i++) assert.equal(await attempt(server, a), 400);
  assert.equal(await attempt(server, a), 429, "client A spent its budget");
  // A client cannot escape by writing its own entries to the left: the proxy appends the real one.
  assert.equal(await attempt(server, { "x-forwarded-for": "203.0.113.9, 198.51.100.1" }), 429);
  // Client B behind the same proxy, and the proxy itself, have budgets of their own.
  const b = { "x-forwarded-for": "198.51.100.1, 198.51.100.2" };
  assert.equal(await attempt(server, b), 400);
  assert.equal(await attempt(server), 400);
  assert.deepEqual(loggedAddresses(server), [
    ...Array(5).fill("198.51.100.1"),
    "198.51.100.2",
    "127.0.0.1",
  ]);
});

Deno.test("POST /login behind a trusted proxy that writes Forwarded reads only Forwarded", async () => {
  await using server = await startTestServer({
    env: { ...BUDGET, TRUSTED_PROXIES: "127.0.0.0/8", TRUSTED_PROXY_HEADER: "forwarded" },
  });
  const a = { forwarded: "for=198.51.100.1;proto=https" };
  for (let i = 0; i < 3; i++) assert.equal(await attempt(server, a), 400);
  assert.equal(await attempt(server, { forwarded: "for=203.0.113.9, for=198.51.100.1" }), 429);
  assert.equal(await attempt(server, { forwarded: 'for="[2001:db8::5]:4711"' }), 400);
  // X-Forwarded-For is not this proxy's header: it is ignored, and the proxy's address counts.
  assert.equal(await attempt(server, { "x-forwarded-for": "198.51.100.7" }), 400);
  assert.deepEqual(loggedAddresses(server).slice(-2), ["2001:db8::5", "127.0.0.1"]);
});

Deno.test("POST /login budgets IPv6 clients by /64 and logs each full address", async () => {
  await using server = await startTestServer({
    env: { ...BUDGET, TRUSTED_PROXIES: "127.0.0.1" },
  });
  const from = (address: string) => ({ "x-forwarded-for": address });
  for (const host of ["a", "b", "c"]) {
    assert.equal(await attempt(server, from(`2001:db8:1:2::${host}`)), 400);
  }
  assert.equal(await attempt(server, from("2001:db8:1:2:ffff::d")), 429, "same /64");
  assert.equal(await attempt(server, from("2001:db8:1:3::1")), 400, "the next /64");
  assert.deepEqual(loggedAddresses(server), [
    "2001:db8:1:2::a",
    "2001:db8:1:2::b",
    "2001:db8:1:2::c",
    "2001:db8:1:2:ffff::d",
    "2001:db8:1:3::1",
  ]);
});

Deno.test("POST /login budgets each IPv6 address alone with IPV6_PREFIX_LENGTH=128", async () => {
  await using server = await startTestServer({
    env: { ...BUDGET, TRUSTED_PROXIES: "127.0.0.1", IPV6_PREFIX_LENGTH: "128" },
  });
  const from = (address: string) => ({ "x-forwarded-for": address });
  for (let i = 0; i < 3; i++) assert.equal(await attempt(server, from("2001:db8::a")), 400);
  // The same address written another way is the same client.
  assert.equal(await attempt(server, from("2001:0DB8:0:0::A")), 429);
  assert.equal(await attempt(server, from("2001:db8::b")), 400);
});
