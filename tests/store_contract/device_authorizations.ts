/**
 * @module
 * The sign-in part of the store contract, its device authorizations (RFC 8628): device
 * authorizations found by their user code, answered once, and polled with every answer decided in
 * one atomic step, also from another connection.
 */
import assert from "node:assert/strict";
import type { DeviceAuthorizationRecord, DevicePoller, Store } from "../../src/store/store.ts";
import { type ContractContext, NOW } from "./setup.ts";

/** A pending device authorization of client "tv", expiring ten minutes after NOW. */
export function deviceRecord(
  fields: Partial<DeviceAuthorizationRecord> = {},
): DeviceAuthorizationRecord {
  return {
    deviceCodeHash: "device-hash",
    userCodeHash: "user-hash",
    clientId: "tv",
    scope: "openid hello",
    createdAt: NOW,
    expiresAt: NOW + 600,
    intervalSeconds: 5,
    lastPolledAt: null,
    status: "pending",
    username: null,
    subject: null,
    browserSid: null,
    authTime: null,
    decidedAt: null,
    ...fields,
  };
}

const TV: DevicePoller = { clientId: "tv", registeredAt: NOW - 100 };

const APPROVAL = {
  approved: true as const,
  username: "alice",
  subject: "subject-a",
  browserSid: "sid-1",
  authTime: NOW - 5,
};

async function outcomeAt(store: Store, at: number, poller = TV): Promise<string> {
  return (await store.pollDeviceAuthorization("device-hash", poller, at)).outcome;
}

/** Registers the device cases. */
export function deviceAuthorizationsContract({ test, testReopening }: ContractContext): void {
  test("addDeviceAuthorization stores a device found by its user code while pending", async (store) => {
    assert.equal(await store.addDeviceAuthorization(deviceRecord()), true);
    assert.deepEqual(await store.findPendingDeviceAuthorization("user-hash", NOW), deviceRecord());
    assert.equal(await store.findPendingDeviceAuthorization("other", NOW), undefined);
    assert.equal(
      await store.findPendingDeviceAuthorization("user-hash", NOW + 600),
      undefined,
      "expired",
    );
  });

  test("addDeviceAuthorization refuses a user code that is taken", async (store) => {
    assert.equal(await store.addDeviceAuthorization(deviceRecord()), true);
    assert.equal(
      await store.addDeviceAuthorization(deviceRecord({ deviceCodeHash: "another" })),
      false,
    );
    assert.equal(
      await store.addDeviceAuthorization(deviceRecord({ userCodeHash: "another" })),
      false,
      "nor a device code that is taken",
    );
  });

  test("decideDeviceAuthorization records one answer while pending and unexpired", async (store) => {
    await store.addDeviceAuthorization(deviceRecord());
    assert.equal(await store.decideDeviceAuthorization("device-hash", APPROVAL, NOW + 1), true);
    assert.equal(
      await store.decideDeviceAuthorization(
        "device-hash",
        { approved: false, username: "bob", subject: "subject-b" },
        NOW + 2,
      ),
      false,
    );
    assert.equal(await store.findPendingDeviceAuthorization("user-hash", NOW + 2), undefined);
    const polled = await store.pollDeviceAuthorization("device-hash", TV, NOW + 3);
    assert.equal(polled.outcome, "approved");
    assert.ok("record" in polled);
    assert.deepEqual(
      polled.record,
      deviceRecord({
        status: "used",
        lastPolledAt: NOW + 3,
        username: "alice",
        subject: "subject-a",
        browserSid: "sid-1",
        authTime: NOW - 5,
        decidedAt: NOW + 1,
      }),
    );
    await store.addDeviceAuthorization(deviceRecord({ deviceCodeHash: "late", userCodeHash: "u" }));
    assert.equal(await store.decideDeviceAuthorization("late", APPROVAL, NOW + 600), false);
    assert.equal(await store.decideDeviceAuthorization("unknown", APPROVAL, NOW), false);
  });

  test("pollDeviceAuthorization answers pending, slow_down with a growing interval, and remembers the poll", async (store) => {
    await store.addDeviceAuthorization(deviceRecord());
    assert.equal(await outcomeAt(store, NOW + 1), "pending");
    assert.equal(await outcomeAt(store, NOW + 2), "slow_down");
    const slower = await store.pollDeviceAuthorization("device-hash", TV, NOW + 3);
    assert.equal(slower.outcome, "slow_down");
    assert.ok("record" in slower);
    assert.equal(slower.record.intervalSeconds, 15);
    assert.equal(await outcomeAt(store, NOW + 3 + 14), "pending", "within the leeway of a second");
    assert.equal(await outcomeAt(store, NOW + 3 + 14 + 15), "pending");
  });

  test("pollDeviceAuthorization answers denied, expired once then expired, used, unknown", async (store) => {
    await store.addDeviceAuthorization(deviceRecord());
    await store.decideDeviceAuthorization(
      "device-hash",
      { approved: false, username: "alice", subject: "subject-a" },
      NOW,
    );
    assert.equal(await outcomeAt(store, NOW + 1), "denied");
    assert.equal(await outcomeAt(store, NOW + 2), "denied", "told at once, whatever the interval");
    assert.equal(await outcomeAt(store, NOW + 600), "expired_now");
    assert.equal(await outcomeAt(store, NOW + 601), "expired");
    assert.equal(
      (await store.pollDeviceAuthorization("unknown", TV, NOW)).outcome,
      "unknown",
    );
  });

  test("pollDeviceAuthorization by another client, or a later registration, changes nothing", async (store) => {
    await store.addDeviceAuthorization(deviceRecord());
    await store.decideDeviceAuthorization("device-hash", APPROVAL, NOW);
    const other = { clientId: "other", registeredAt: NOW - 100 };
    assert.equal(await outcomeAt(store, NOW + 1, other), "other_client");
    const again = { clientId: "tv", registeredAt: NOW + 1 };
    assert.equal(await outcomeAt(store, NOW + 1, again), "other_client");
    assert.equal(await outcomeAt(store, NOW + 1), "approved");
    assert.equal(await outcomeAt(store, NOW + 2), "used");
  });

  test("pollDeviceAuthorization from 8 concurrent callers gives an approval to exactly one", async (store) => {
    await store.addDeviceAuthorization(deviceRecord());
    await store.decideDeviceAuthorization("device-hash", APPROVAL, NOW);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => outcomeAt(store, NOW + 1)),
    );
    assert.deepEqual(outcomes.sort(), ["approved", ...Array(7).fill("used")].sort());
  });

  testReopening(
    "pollDeviceAuthorization from two connections gives an approval to exactly one",
    async (store, reopen) => {
      const other = await reopen();
      await store.addDeviceAuthorization(deviceRecord());
      assert.ok(await other.decideDeviceAuthorization("device-hash", APPROVAL, NOW));
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => outcomeAt(i % 2 ? store : other, NOW + 1)),
      );
      assert.equal(outcomes.filter((outcome) => outcome === "approved").length, 1);
    },
  );

  test("pruneExpired keeps device authorizations an hour past their expiry", async (store) => {
    await store.addDeviceAuthorization(deviceRecord());
    await store.pruneExpired(NOW + 600 + 3599);
    assert.equal(await outcomeAt(store, NOW + 600 + 3599), "expired_now");
    await store.pruneExpired(NOW + 600 + 3600);
    assert.equal(await outcomeAt(store, NOW + 600 + 3600), "unknown");
  });
}
