/**
 * @module
 * Device tokens below the routes (`DeviceTokens` over a SQLite store): a token verifies for its
 * user until it expires, any change or another spelling of its MAC is refused, the signing key is
 * shared by every instance on the store, and only remembered devices count, at most
 * MAX_REMEMBERED_DEVICES per user, never carried over to a new user of a removed user's name.
 */
import assert from "node:assert/strict";
import { DeviceTokens, MAX_REMEMBERED_DEVICES } from "../src/auth/accounts/device_tokens.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

const T0 = Date.UTC(2030, 0, 1) / 1000;
const TTL = 3600;
/** A new device, as a login names it. */
const NEW = { label: "test agent/1.0" };

async function open(): Promise<{ store: SqliteStore; devices: DeviceTokens } & AsyncDisposable> {
  const store = await SqliteStore.open(":memory:");
  await store.addUser("alice", "$hash");
  await store.addUser("bob", "$hash");
  const devices = await DeviceTokens.open(store, { ttlSeconds: TTL });
  return { store, devices, [Symbol.asyncDispose]: () => store.close() };
}

Deno.test("DeviceTokens.issue makes a token that verifies for its username until it expires", async () => {
  await using f = await open();
  const token = await f.devices.issue("alice", NEW, T0);
  const [deviceId, expiry, mac] = token.split(".");
  assert.match(deviceId, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(Number(expiry), T0 + TTL);
  assert.match(mac, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await f.devices.verify(token, "alice", T0), deviceId);
  assert.equal(await f.devices.verify(token, "alice", T0 + TTL - 1), deviceId);
  assert.equal(await f.devices.verify(token, "alice", T0 + TTL), undefined, "expired");
});

Deno.test("DeviceTokens.issue gives each login a new device unless one is named", async () => {
  await using f = await open();
  const first = await f.devices.issue("alice", NEW, T0);
  const second = await f.devices.issue("alice", NEW, T0);
  assert.notEqual(first.split(".")[0], second.split(".")[0]);
  const renewed = await f.devices.issue(
    "alice",
    { ...NEW, deviceId: first.split(".")[0] },
    T0 + 100,
  );
  assert.equal(await f.devices.verify(renewed, "alice", T0 + TTL + 50), first.split(".")[0]);
});

Deno.test("DeviceTokens.verify refuses another user's token, and any change to a token", async () => {
  await using f = await open();
  const token = await f.devices.issue("alice", NEW, T0);
  const [deviceId, expiry, mac] = token.split(".");
  for (const username of ["bob", "Alice", "alice ", "", "alic"]) {
    assert.equal(await f.devices.verify(token, username, T0), undefined, username);
  }
  const flipped = mac[0] === "A" ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
  const otherDevice = deviceId[0] === "A" ? `B${deviceId.slice(1)}` : `A${deviceId.slice(1)}`;
  const forged = [
    `${deviceId}.${expiry}.${flipped}`,
    `${otherDevice}.${expiry}.${mac}`,
    `${deviceId}.${Number(expiry) + 86400}.${mac}`, // a longer life
    `${deviceId}.${expiry}.${mac}x`,
    `${deviceId}.${expiry}`,
    `${deviceId}..${mac}`,
    `${token}.`,
    "",
    "not a token",
    "a".repeat(10_000),
  ];
  for (const candidate of forged) {
    assert.equal(await f.devices.verify(candidate, "alice", T0), undefined, candidate);
  }
});

Deno.test("DeviceTokens keeps one signing key in the store, shared by every instance on it", async () => {
  const path = await Deno.makeTempFile({ suffix: ".db" });
  try {
    const [one, two] = await Promise.all([SqliteStore.open(path), SqliteStore.open(path)]);
    await one.addUser("alice", "$hash");
    const [a, b] = await Promise.all([
      DeviceTokens.open(one, { ttlSeconds: TTL }),
      DeviceTokens.open(two, { ttlSeconds: TTL }),
    ]);
    const token = await a.issue("alice", NEW, T0);
    assert.equal(await b.verify(token, "alice", T0), token.split(".")[0]);
    await Promise.all([one.close(), two.close()]);
    await using other = await open();
    assert.equal(await other.devices.verify(token, "alice", T0), undefined, "another store's key");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("DeviceTokens.verify refuses a token whose MAC is spelled another way with the same bytes", async () => {
  await using f = await open();
  const token = await f.devices.issue("alice", NEW);
  const [id, expiry, mac] = token.split(".");
  // 32 bytes take 43 base64url characters, whose last one holds 2 unused bits.
  const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".indexOf(
    mac.at(-1)!,
  );
  const respelled = `${mac.slice(0, -1)}${
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]
  }`;
  assert.deepEqual(
    Uint8Array.fromBase64(respelled, { alphabet: "base64url" }),
    Uint8Array.fromBase64(mac, { alphabet: "base64url" }),
    "the same bytes",
  );
  assert.equal(await f.devices.verify(token, "alice"), id);
  assert.equal(await f.devices.verify(`${id}.${expiry}.${respelled}`, "alice"), undefined);
});

Deno.test("DeviceTokens count a device only while it is remembered: forgotten, it starts over as a new one", async () => {
  await using f = await open();
  const token = await f.devices.issue("alice", NEW, T0);
  const [deviceId] = token.split(".");
  assert.deepEqual(
    (await f.store.listRememberedDevices("alice", T0)).map((
      device,
    ) => [device.deviceId, device.label]),
    [[deviceId, NEW.label]],
  );
  assert.equal(await f.store.forgetDevice("alice", deviceId), true);
  assert.equal(await f.devices.verify(token, "alice", T0), undefined, "forgotten");
  const again = await f.devices.issue("alice", { ...NEW, deviceId }, T0 + 1);
  assert.notEqual(again.split(".")[0], deviceId, "a forgotten device is never renewed");
});

Deno.test("DeviceTokens remember at most MAX_REMEMBERED_DEVICES devices per user, forgetting the least recently seen", async () => {
  await using f = await open();
  const first = await f.devices.issue("alice", NEW, T0);
  for (let i = 1; i <= MAX_REMEMBERED_DEVICES; i++) await f.devices.issue("alice", NEW, T0 + i);
  const listed = await f.store.listRememberedDevices("alice", T0);
  assert.equal(listed.length, MAX_REMEMBERED_DEVICES);
  assert.equal(await f.devices.verify(first, "alice", T0), undefined, "the oldest is forgotten");
});

Deno.test("DeviceTokens of a removed user do not count for a new user of the same name", async () => {
  await using f = await open();
  const token = await f.devices.issue("alice", NEW, T0);
  await f.store.removeUser("alice", T0);
  await f.store.addUser("alice", "$hash");
  assert.equal(await f.devices.verify(token, "alice", T0), undefined);
});
