/**
 * @module
 * The accounts part of the store contract, its passkeys: credentials stored by id and owned by an
 * account's subject (gone with the account), listed, renamed and removed by their owner only, and
 * the signature counter advanced once per value, also by concurrent callers and connections.
 */
import assert from "node:assert/strict";
import type { NewPasskey, Store } from "../../src/store/store.ts";
import { type ContractContext, HASH, NOW } from "./setup.ts";

/** A passkey of `subject` with credential id `id`. */
function passkey(subject: string, id: string, counter = 0): NewPasskey {
  return {
    id,
    subject,
    publicKey: "pQECAyYgASFYIA",
    counter,
    transports: ["internal", "hybrid"],
    backupEligible: true,
    backedUp: false,
    userVerified: true,
    name: `Key ${id}`,
    createdAt: NOW,
  };
}

async function aliceSubject(store: Store): Promise<string> {
  await store.addUser("alice", HASH);
  return (await store.getUser("alice"))!.subject;
}

/** Registers the passkey cases. */
export function passkeysContract({ test, testReopening }: ContractContext): void {
  test("addPasskey stores a credential once, for an existing account only", async (store) => {
    assert.equal(await store.addPasskey(passkey("nobody", "c1")), false, "no such account");
    const subject = await aliceSubject(store);
    assert.equal(await store.addPasskey(passkey(subject, "c1")), true);
    assert.equal(await store.addPasskey(passkey(subject, "c1")), false, "known credential id");
    assert.deepEqual(await store.getPasskey("c1"), {
      ...passkey(subject, "c1"),
      username: "alice",
      lastUsedAt: null,
    });
    assert.equal(await store.getPasskey("c2"), undefined);
  });

  test("addPasskey with atMost never lets concurrent additions pass the bound", async (store) => {
    const subject = await aliceSubject(store);
    await store.addUser("bob", HASH);
    const bob = (await store.getUser("bob"))!.subject;
    assert.equal(await store.addPasskey(passkey(subject, "first"), { atMost: 3 }), true);
    assert.equal(await store.addPasskey(passkey(bob, "bobs"), { atMost: 1 }), true, "per account");
    const added = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) => store.addPasskey(passkey(subject, `c${i}`), { atMost: 3 }),
      ),
    );
    assert.equal(added.filter(Boolean).length, 2);
    assert.equal((await store.listPasskeys(subject)).length, 3);
    assert.equal(await store.addPasskey(passkey(subject, "more"), { atMost: 3 }), false);
  });

  testReopening(
    "addPasskey with atMost holds the bound across connections",
    async (store, reopen) => {
      const subject = await aliceSubject(store);
      const other = await reopen();
      const added = await Promise.all(
        Array.from(
          { length: 6 },
          (_, i) => (i % 2 ? other : store).addPasskey(passkey(subject, `c${i}`), { atMost: 2 }),
        ),
      );
      assert.equal(added.filter(Boolean).length, 2);
      assert.equal((await store.listPasskeys(subject)).length, 2);
    },
  );

  test("listPasskeys lists an account's passkeys oldest first, and only its own", async (store) => {
    const alice = await aliceSubject(store);
    await store.addUser("bob", HASH);
    const bob = (await store.getUser("bob"))!.subject;
    await store.addPasskey({ ...passkey(alice, "later"), createdAt: NOW + 5 });
    await store.addPasskey(passkey(alice, "first"));
    await store.addPasskey(passkey(bob, "bobs"));
    const listed = await store.listPasskeys(alice);
    assert.deepEqual(listed.map((each) => each.id), ["first", "later"]);
    assert.deepEqual(await store.listPasskeys("nobody"), []);
    const empty = { ...passkey(alice, "bare"), transports: [] };
    await store.addPasskey(empty);
    assert.deepEqual((await store.getPasskey("bare"))?.transports, []);
  });

  test("usePasskey advances a counter only upwards, and 0 stays usable only at 0", async (store) => {
    const subject = await aliceSubject(store);
    await store.addPasskey(passkey(subject, "counted", 5));
    const use = (counter: number, now = NOW + 1) =>
      store.usePasskey("counted", { counter, backedUp: true, now });
    assert.equal(await use(5), false, "the same counter again");
    assert.equal(await use(4), false, "a lower counter");
    assert.equal(await use(0), false, "a counter that went back to 0");
    assert.equal(await use(6, NOW + 9), true);
    const used = await store.getPasskey("counted");
    assert.equal(used?.counter, 6);
    assert.equal(used?.backedUp, true);
    assert.equal(used?.lastUsedAt, NOW + 9);
    await store.addPasskey(passkey(subject, "uncounted", 0));
    const uncounted = (counter: number) =>
      store.usePasskey("uncounted", { counter, backedUp: false, now: NOW });
    assert.equal(await uncounted(0), true);
    assert.equal(await uncounted(0), true, "an authenticator without a counter");
    assert.equal(await uncounted(3), true, "a counter that starts counting");
    assert.equal(await uncounted(0), false);
    assert.equal(
      await store.usePasskey("unknown", { counter: 1, backedUp: false, now: NOW }),
      false,
    );
  });

  test("usePasskey from 5 concurrent callers advances to one counter value once", async (store) => {
    const subject = await aliceSubject(store);
    await store.addPasskey(passkey(subject, "c", 1));
    const results = await Promise.all(
      Array.from(
        { length: 5 },
        () => store.usePasskey("c", { counter: 2, backedUp: false, now: NOW }),
      ),
    );
    assert.equal(results.filter(Boolean).length, 1);
  });

  testReopening(
    "usePasskey from two connections advances a counter value once",
    async (store, reopen) => {
      const subject = await aliceSubject(store);
      await store.addPasskey(passkey(subject, "c", 1));
      const other = await reopen();
      const results = await Promise.all(
        [store, other, store, other].map((each) =>
          each.usePasskey("c", { counter: 7, backedUp: false, now: NOW })
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
    },
  );

  test("renamePasskey and removePasskey touch the owner's passkey only", async (store) => {
    const alice = await aliceSubject(store);
    await store.addUser("bob", HASH);
    const bob = (await store.getUser("bob"))!.subject;
    await store.addPasskey(passkey(alice, "c"));
    assert.equal(await store.renamePasskey(bob, "c", "Mine now"), false);
    assert.equal(await store.renamePasskey(alice, "c", "Laptop"), true);
    assert.equal((await store.getPasskey("c"))?.name, "Laptop");
    assert.equal(await store.removePasskey(bob, "c"), false);
    assert.equal(await store.removePasskey(alice, "c"), true);
    assert.equal(await store.removePasskey(alice, "c"), false);
    assert.equal(await store.getPasskey("c"), undefined);
  });

  test("removePasskeys removes every passkey of one account", async (store) => {
    const alice = await aliceSubject(store);
    await store.addUser("bob", HASH);
    const bob = (await store.getUser("bob"))!.subject;
    await store.addPasskey(passkey(alice, "a1"));
    await store.addPasskey(passkey(alice, "a2"));
    await store.addPasskey(passkey(bob, "b1"));
    assert.equal(await store.removePasskeys(alice), 2);
    assert.equal(await store.removePasskeys(alice), 0);
    assert.deepEqual(await store.listPasskeys(alice), []);
    assert.equal((await store.listPasskeys(bob)).length, 1);
  });

  test("passkeys go with their account, and a later account of the same name has none", async (store) => {
    const alice = await aliceSubject(store);
    await store.addPasskey(passkey(alice, "c"));
    await store.removeUser("alice", NOW);
    assert.equal(await store.getPasskey("c"), undefined);
    const again = await aliceSubject(store);
    assert.deepEqual(await store.listPasskeys(again), []);
  });
}
