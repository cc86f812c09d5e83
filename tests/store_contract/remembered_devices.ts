/**
 * @module
 * The accounts part of the store contract, its remembered devices: devices remembered per user,
 * renewed, listed, forgotten, pruned, and gone with their user.
 */
import assert from "node:assert/strict";
import type { RememberedDeviceRecord } from "../../src/store/store.ts";
import { type ContractContext, HASH, NOW } from "./setup.ts";

function device(deviceId: string, username = "alice", seenAt = NOW): RememberedDeviceRecord {
  return {
    deviceId,
    username,
    label: `agent of ${deviceId}`,
    firstSeenAt: seenAt,
    lastSeenAt: seenAt,
    expiresAt: seenAt + 100,
  };
}

/** Registers the remembered-devices cases. */
export function rememberedDevicesContract({ test, testReopening }: ContractContext): void {
  test("rememberDevice keeps a device of an existing user, listed most recently seen first", async (store) => {
    assert.equal(await store.rememberDevice(device("d1")), false, "no such user");
    await store.addUser("alice", HASH);
    await store.addUser("bob", HASH);
    assert.equal(await store.rememberDevice(device("d1")), true);
    assert.equal(await store.rememberDevice(device("d2", "alice", NOW + 5)), true);
    assert.equal(await store.rememberDevice(device("d3", "bob")), true);
    assert.deepEqual(await store.listRememberedDevices("alice", NOW + 1), [
      device("d2", "alice", NOW + 5),
      device("d1"),
    ]);
    assert.equal(await store.isDeviceRemembered("d1", "alice", NOW + 1), true);
    assert.equal(await store.isDeviceRemembered("d3", "alice", NOW + 1), false, "bob's device");
    assert.equal(await store.isDeviceRemembered("d1", "alice", NOW + 100), false, "expired");
    assert.deepEqual(await store.listRememberedDevices("alice", NOW + 100), [
      device("d2", "alice", NOW + 5),
    ]);
  });

  test("rememberDevice with atMost forgets the least recently seen devices beyond it, also when called at once", async (store) => {
    await store.addUser("alice", HASH);
    await store.addUser("bob", HASH);
    await store.rememberDevice(device("bobs", "bob"), { atMost: 1 });
    for (let i = 0; i < 4; i++) {
      assert.equal(
        await store.rememberDevice(device(`d${i}`, "alice", NOW + i), { atMost: 3 }),
        true,
      );
    }
    assert.deepEqual((await store.listRememberedDevices("alice", NOW)).map((d) => d.deviceId), [
      "d3",
      "d2",
      "d1",
    ]);
    await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) => store.rememberDevice(device(`p${i}`, "alice", NOW + 10), { atMost: 3 }),
      ),
    );
    assert.equal((await store.listRememberedDevices("alice", NOW)).length, 3);
    assert.equal(await store.isDeviceRemembered("bobs", "bob", NOW), true, "another user's stay");
  });

  test("renewDevice extends a remembered device only, never a forgotten, expired or other user's one", async (store) => {
    await store.addUser("alice", HASH);
    await store.addUser("bob", HASH);
    await store.rememberDevice(device("d1"));
    assert.equal(await store.renewDevice("d1", "alice", NOW + 500, NOW + 50), true);
    assert.deepEqual(await store.listRememberedDevices("alice", NOW + 200), [
      { ...device("d1"), lastSeenAt: NOW + 50, expiresAt: NOW + 500 },
    ]);
    assert.equal(await store.renewDevice("d1", "bob", NOW + 900, NOW + 60), false);
    assert.equal(await store.renewDevice("d1", "alice", NOW + 900, NOW + 500), false, "expired");
    assert.equal(await store.forgetDevice("alice", "d1"), true);
    assert.equal(await store.renewDevice("d1", "alice", NOW + 900, NOW + 60), false, "forgotten");
    assert.deepEqual(await store.listRememberedDevices("alice", NOW), []);
  });

  test("forgetDevice forgets only the user's own device; forgetDevices all of them", async (store) => {
    await store.addUser("alice", HASH);
    await store.addUser("bob", HASH);
    await store.rememberDevice(device("d1"));
    await store.rememberDevice(device("d2"));
    await store.rememberDevice(device("d3", "bob"));
    assert.equal(await store.forgetDevice("alice", "d3"), false, "bob's");
    assert.equal(await store.forgetDevice("alice", "d1"), true);
    assert.equal(await store.forgetDevice("alice", "d1"), false, "already forgotten");
    assert.equal(await store.isDeviceRemembered("d1", "alice", NOW), false);
    assert.equal(await store.forgetDevices("alice"), 1);
    assert.deepEqual(await store.listRememberedDevices("alice", NOW), []);
    assert.equal(await store.isDeviceRemembered("d3", "bob", NOW), true);
  });

  test("removing a user forgets their devices, also for a new user of the same name", async (store) => {
    await store.addUser("alice", HASH);
    await store.rememberDevice(device("d1"));
    await store.removeUser("alice", NOW);
    await store.addUser("alice", HASH);
    assert.equal(await store.isDeviceRemembered("d1", "alice", NOW), false);
    assert.deepEqual(await store.listRememberedDevices("alice", NOW), []);
  });

  test("pruneExpired deletes expired devices only", async (store) => {
    await store.addUser("alice", HASH);
    await store.rememberDevice(device("old"));
    await store.rememberDevice(device("new", "alice", NOW + 50));
    await store.pruneExpired(NOW + 100);
    assert.equal(await store.renewDevice("old", "alice", NOW + 1_000, NOW), false, "deleted");
    assert.equal(await store.isDeviceRemembered("new", "alice", NOW + 100), true);
  });

  testReopening(
    "a device forgotten through one connection is forgotten for the other",
    async (store, reopen) => {
      await store.addUser("alice", HASH);
      await store.rememberDevice(device("d1"));
      const other = await reopen();
      assert.equal(await other.isDeviceRemembered("d1", "alice", NOW), true);
      assert.equal(await other.forgetDevice("alice", "d1"), true);
      assert.equal(await store.isDeviceRemembered("d1", "alice", NOW), false);
    },
  );
}
