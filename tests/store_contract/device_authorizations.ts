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
    address: null,
    ...fields,
  };
}

/** A pending authorization `name` (its device and user code) from the address 203.0.113.5. */
function fromAddress(
  name: string,
  fields: Partial<DeviceAuthorizationRecord> = {},
): DeviceAuthorizationRecord {
  return deviceRecord({
    deviceCodeHash: name,
    userCodeHash: `user-${name}`,
    address: "203.0.113.5",
    ...fields,
  });
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
    assert.deepEqual(await store.addDeviceAuthorization(deviceRecord()), { added: true });
    assert.deepEqual(await store.findPendingDeviceAuthorization("user-hash", NOW), deviceRecord());
    assert.equal(await store.findPendingDeviceAuthorization("other", NOW), undefined);
    assert.equal(
      await store.findPendingDeviceAuthorization("user-hash", NOW + 600),
      undefined,
      "expired",
    );
  });

  test("addDeviceAuthorization refuses a user code that is taken", async (store) => {
    const taken = { added: false, userCodeTaken: true };
    assert.deepEqual(await store.addDeviceAuthorization(deviceRecord()), { added: true });
    assert.deepEqual(
      await store.addDeviceAuthorization(deviceRecord({ deviceCodeHash: "another" })),
      taken,
    );
    assert.deepEqual(
      await store.addDeviceAuthorization(deviceRecord({ userCodeHash: "another" })),
      taken,
      "nor a device code that is taken",
    );
  });

  test("addDeviceAuthorization keeps an address's waiting authorizations within the cap", async (store) => {
    assert.deepEqual(await store.addDeviceAuthorization(fromAddress("a"), 2), { added: true });
    assert.deepEqual(
      await store.addDeviceAuthorization(fromAddress("b", { expiresAt: NOW + 300 }), 2),
      { added: true },
    );
    assert.deepEqual(await store.addDeviceAuthorization(fromAddress("c"), 2), {
      added: false,
      freeAt: NOW + 300,
    });
    assert.equal(await store.findPendingDeviceAuthorization("user-c", NOW), undefined);
    const elsewhere = fromAddress("d", { address: "198.51.100.7" });
    assert.deepEqual(await store.addDeviceAuthorization(elsewhere, 2), { added: true });
    const uncounted = fromAddress("e", { address: null });
    assert.deepEqual(await store.addDeviceAuthorization(uncounted, 2), { added: true });
    assert.deepEqual(
      await store.addDeviceAuthorization(fromAddress("f")),
      { added: true },
      "no cap",
    );
  });

  test("an address's authorization holds its place until used, denied or expired", async (store) => {
    const poller = { ...TV };
    await store.addDeviceAuthorization(fromAddress("a"), 2);
    await store.addDeviceAuthorization(fromAddress("b", { expiresAt: NOW + 300 }), 2);
    assert.ok(await store.decideDeviceAuthorization("a", APPROVAL, NOW));
    const full = { added: false, freeAt: NOW + 300 };
    assert.deepEqual(await store.addDeviceAuthorization(fromAddress("c"), 2), full, "approved");
    assert.equal((await store.pollDeviceAuthorization("a", poller, NOW + 1)).outcome, "approved");
    assert.deepEqual(await store.addDeviceAuthorization(fromAddress("c"), 2), { added: true });
    assert.ok(await store.decideDeviceAuthorization("c", { ...APPROVAL, approved: false }, NOW));
    assert.deepEqual(await store.addDeviceAuthorization(fromAddress("d"), 2), { added: true });
    const later = fromAddress("e", { createdAt: NOW + 300, expiresAt: NOW + 900 });
    assert.deepEqual(await store.addDeviceAuthorization(later, 2), { added: true }, "b expired");
    const expired = await store.pollDeviceAuthorization("b", poller, NOW + 300);
    assert.equal(expired.outcome, "expired_now", "an expired one is kept for its answer");
  });

  test("addDeviceAuthorization from 12 concurrent callers of one address with a cap of 5 stores exactly 5", async (store) => {
    const admissions = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.addDeviceAuthorization(fromAddress(`d${i}`), 5)),
    );
    assert.equal(admissions.filter((admission) => admission.added).length, 5);
  });

  testReopening(
    "two connections adding device authorizations for one address at once keep its cap",
    async (store, reopen) => {
      const other = await reopen();
      const admissions = await Promise.all(
        Array.from(
          { length: 12 },
          (_, i) => (i % 2 === 0 ? store : other).addDeviceAuthorization(fromAddress(`d${i}`), 5),
        ),
      );
      assert.equal(admissions.filter((admission) => admission.added).length, 5);
    },
  );

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
