/**
 * @module
 * The clients part of the store contract: registered OAuth clients, and their removal, which
 * ends the client's refresh families, codes and consents and records a `client` revocation in
 * the same step, also when it races family starts and rotations on another connection.
 */
import assert from "node:assert/strict";
import { StoreFailure } from "../../src/store/errors.ts";
import type { ClientRemoval } from "../../src/store/store.ts";
import {
  clientRecord,
  codeRecord,
  type ContractContext,
  familyRecord,
  HASH,
  nextToken,
  NOW,
  startFamily,
  tokenRecord,
} from "./setup.ts";

/** Registers the clients cases. */
export function clientsContract({ test, testReopening }: ContractContext): void {
  // --- registered clients ---

  test("getClient returns undefined for an unknown client", async (store) => {
    assert.equal(await store.getClient("app"), undefined);
    assert.deepEqual(await store.listClients(), []);
  });

  test("addClient then getClient returns every field", async (store) => {
    const confidential = clientRecord("client'); DROP TABLE clients;--", {
      name: "Zoë's app 🦕",
      redirectUris: ["https://app.example/cb?x=1&y=2", "com.example.app:/callback"],
      postLogoutRedirectUris: ["https://app.example/bye"],
      firstParty: true,
      scope: "openid profile hello",
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      createdAt: 4_102_444_800,
    });
    const publicClient = clientRecord("spa", { secretHash: null, grantTypes: [] });
    await store.addClient(confidential);
    await store.addClient(publicClient);
    assert.deepEqual(await store.getClient(confidential.clientId), confidential);
    assert.deepEqual(await store.getClient("spa"), publicClient);
    assert.equal(await store.getClient("SPA"), undefined, "exact id only");
  });

  test("addClient rejects a taken id as duplicate_client and keeps the old record", async (store) => {
    await store.addClient(clientRecord("app"));
    await assert.rejects(store.addClient(clientRecord("app", { firstParty: true })), (error) => {
      assert.ok(error instanceof StoreFailure);
      assert.equal(error.code, "duplicate_client");
      assert.equal(error.message, 'Client "app" already exists');
      return true;
    });
    assert.equal((await store.getClient("app"))?.firstParty, false);
  });

  test("addClient refuses as name_taken a client that acts for itself under a user's name or subject", async (store) => {
    await store.addUser("user2", HASH);
    const { subject } = (await store.getUser("user2"))!;
    for (const clientId of ["user2", subject]) {
      const client = clientRecord(clientId, {
        grantTypes: ["authorization_code", "client_credentials"],
      });
      await assert.rejects(store.addClient(client), (error) => {
        assert.ok(error instanceof StoreFailure);
        assert.equal(error.code, "name_taken");
        assert.equal(
          error.message,
          `Client id "${clientId}" is a user's name or subject; a client_credentials client needs an id no user has`,
        );
        return true;
      });
      assert.equal(await store.getClient(clientId), undefined, clientId);
    }
    assert.deepEqual(await store.listClients(), []);
    // A client that never gets tokens for itself is never a token's subject.
    await store.addClient(clientRecord("user2"));
    assert.ok(await store.getClient("user2"));
    await store.addClient(clientRecord("user3", { grantTypes: ["client_credentials"] }));
    assert.ok(await store.getClient("user3"));
  });

  test("listClients lists clients in order of their ids", async (store) => {
    for (const id of ["carol", "Alice", "bob", "alice"]) await store.addClient(clientRecord(id));
    assert.deepEqual((await store.listClients()).map((client) => client.clientId), [
      "Alice",
      "alice",
      "bob",
      "carol",
    ]);
  });

  test("removeClient forgets the client and its consents only, false when there is none", async (store) => {
    await store.addClient(clientRecord("app"));
    await store.addClient(clientRecord("other"));
    await store.saveConsent("alice", "app", "openid", NOW);
    await store.saveConsent("alice", "other", "openid", NOW);
    assert.equal(await store.removeClient("app", removalAt(NOW)), true);
    assert.equal(await store.getClient("app"), undefined);
    assert.equal(await store.getConsent("alice", "app"), undefined);
    assert.equal(await store.getConsent("alice", "other"), "openid");
    assert.ok(await store.getClient("other"));
    assert.equal(await store.removeClient("app", removalAt(NOW)), false);
  });

  test("setClientSecretHash replaces the hash, false for no such client", async (store) => {
    await store.addClient(clientRecord("app"));
    await store.addClient(clientRecord("other"));
    assert.equal(await store.setClientSecretHash("app", "1".repeat(64)), true);
    assert.equal((await store.getClient("app"))?.secretHash, "1".repeat(64));
    assert.equal((await store.getClient("other"))?.secretHash, "f".repeat(64));
    assert.equal(await store.setClientSecretHash("nobody", "1".repeat(64)), false);
  });

  // --- removing a client ends what it was given ---

  test("removeClient revokes the client's families, deletes its codes and consents and records a client revocation in one step; other clients keep theirs", async (store) => {
    const now = NOW + 100;
    await store.addClient(clientRecord("app"));
    await store.addClient(clientRecord("other"));
    const app = { clientId: "app" };
    await startFamily(store, familyRecord("live", app), "h-live");
    // Refresh tokens over, access tokens still accepted.
    await startFamily(
      store,
      familyRecord("access-only", { ...app, expiresAt: now, accessExpiresAt: now + 50 }),
      "h-ao",
      { expiresAt: now },
    );
    await startFamily(
      store,
      familyRecord("over", { ...app, expiresAt: now - 10, accessExpiresAt: now - 5 }),
      "h-over",
      { expiresAt: now - 10 },
    );
    await startFamily(store, familyRecord("revoked", app), "h-revoked");
    await store.revokeRefreshFamily("revoked", NOW + 1);
    await startFamily(store, familyRecord("others", { clientId: "other" }), "h-other");
    const live = { expiresAt: now + 60 };
    await store.addAuthorizationCode(codeRecord("c-unused", live));
    await store.addAuthorizationCode(codeRecord("c-used", live));
    await store.useAuthorizationCode("c-used", NOW + 1);
    await store.addAuthorizationCode(codeRecord("c-other", { ...live, clientId: "other" }));
    await store.saveConsent("alice", "app", "openid", NOW);
    await store.saveConsent("alice", "other", "openid", NOW);
    const before = await store.listRevocations(0, now);

    const removal = removalAt(now);
    assert.equal(await store.removeClient("app", removal), true);

    assert.equal(await store.getClient("app"), undefined);
    const expected = { "h-live": now, "h-ao": now, "h-over": now, "h-revoked": NOW + 1 };
    for (const [hash, revokedAt] of Object.entries(expected)) {
      assert.equal((await store.getRefreshToken(hash))?.family.revokedAt, revokedAt, hash);
    }
    const refused = await store.rotateRefreshToken("h-live", now + 1, nextToken("n"));
    assert.equal(refused.outcome, "revoked");
    for (const code of ["c-unused", "c-used"]) {
      assert.deepEqual(await store.useAuthorizationCode(code, now), { outcome: "unknown" }, code);
    }
    assert.equal(await store.getConsent("alice", "app"), undefined);
    const added = (await store.listRevocations(before.at(-1)!.seq, now))
      .map(({ seq: _, ...revocation }) => revocation)
      .sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(added, [
      { kind: "sid", id: "access-only", expiresAt: now + 50 },
      {
        kind: "client",
        id: "app",
        expiresAt: removal.tokensAcceptedUntil,
        issuedUntil: removal.tokensIssuedUntil,
      },
      { kind: "sid", id: "live", expiresAt: NOW + 930 },
    ]);

    // The other client keeps everything.
    assert.ok(await store.getClient("other"));
    assert.equal((await store.getRefreshToken("h-other"))?.family.revokedAt, null);
    assert.equal((await store.useAuthorizationCode("c-other", now)).outcome, "redeemed");
    assert.equal(await store.getConsent("alice", "other"), "openid");

    // Nothing of a client that does not exist is touched or recorded.
    const last = (await store.listRevocations(0, now)).at(-1)!.seq;
    assert.equal(await store.removeClient("app", removalAt(now + 1)), false);
    assert.equal(await store.removeClient("nobody", removalAt(now + 1)), false);
    assert.deepEqual(await store.listRevocations(last, now), []);
  });

  test("removeClient of an id registered again records its client revocation anew, after what an instance has read, with the later cutoff", async (store) => {
    await store.addClient(clientRecord("app"));
    const first = removalAt(NOW + 10);
    assert.equal(await store.removeClient("app", first), true);
    const [seen] = await store.listRevocations(0, NOW + 10);
    assert.equal(seen.issuedUntil, first.tokensIssuedUntil);
    await store.addRevocation("jti", "in-between", NOW + 500);

    await store.addClient(clientRecord("app", { createdAt: NOW + 12 }));
    const second = removalAt(NOW + 20);
    assert.equal(await store.removeClient("app", second), true);
    const news = await store.listRevocations(seen.seq, NOW + 20);
    assert.deepEqual(news.map(({ kind, id, issuedUntil }) => ({ kind, id, issuedUntil })), [
      { kind: "jti", id: "in-between", issuedUntil: undefined },
      { kind: "client", id: "app", issuedUntil: second.tokensIssuedUntil },
    ]);
    const clientRevocations = (await store.listRevocations(0, NOW + 20))
      .filter((revocation) => revocation.kind === "client");
    assert.equal(clientRevocations.length, 1, "one record per client id");
    assert.equal(clientRevocations[0].expiresAt, second.tokensAcceptedUntil);

    await store.pruneExpired(second.tokensAcceptedUntil);
    assert.deepEqual(await store.listRevocations(0, second.tokensAcceptedUntil - 1), []);
  });

  test("startRefreshFamily for a registered client starts only while that very registration exists", async (store) => {
    await store.addUser("alice", HASH);
    await store.addClient(clientRecord("app"));
    const start = (id: string, createdAt?: number) =>
      store.startRefreshFamily(
        familyRecord(id, { clientId: "app" }),
        tokenRecord(`${id}-h`, id),
        HASH,
        createdAt === undefined ? undefined : { createdAt },
      );
    assert.equal(await start("current", NOW), true);
    assert.equal(await start("older", NOW - 1), false, "another registration of the id");
    assert.equal(await store.removeClient("app", removalAt(NOW + 1)), true);
    assert.equal(await start("removed", NOW), false, "the client is gone");
    await store.addClient(clientRecord("app", { createdAt: NOW + 3 }));
    assert.equal(await start("before", NOW), false, "the removed registration's");
    assert.equal(await start("again", NOW + 3), true, "the new registration's");
    for (const id of ["older", "removed", "before"]) {
      assert.equal(await store.getRefreshToken(`${id}-h`), undefined, `${id}: nothing stored`);
    }
    // A client that is not registered in the store (the default client) needs no registration.
    const unregistered = familyRecord("default-client");
    assert.equal(
      await store.startRefreshFamily(unregistered, tokenRecord("d-h", "default-client"), HASH),
      true,
    );
  });

  testReopening(
    "removeClient racing family starts and rotations on another connection leaves no family of the client alive",
    async (store, reopen) => {
      const other = await reopen();
      await store.addUser("alice", HASH);
      await store.addClient(clientRecord("app"));
      const app = { clientId: "app" };
      const hashes: string[] = [];
      for (let i = 0; i < 8; i++) {
        await startFamily(store, familyRecord(`old-${i}`, app), `old-${i}`);
        hashes.push(`old-${i}`, `old-${i}-next`);
      }
      const now = NOW + 50;
      const racing: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        racing.push(other.rotateRefreshToken(`old-${i}`, now, nextToken(`old-${i}-next`)));
        racing.push(other.startRefreshFamily(
          familyRecord(`new-${i}`, { ...app, createdAt: now }),
          tokenRecord(`new-${i}`, `new-${i}`),
          HASH,
          { createdAt: NOW },
        ));
        hashes.push(`new-${i}`);
      }
      racing.splice(5, 0, store.removeClient("app", removalAt(now)));
      await Promise.all(racing);

      const revocations = await store.listRevocations(0, now);
      const alive: string[] = [];
      for (const hash of hashes) {
        const state = await store.getRefreshToken(hash);
        if (!state) continue;
        const { family } = state;
        const covered = revocations.some((revocation) =>
          revocation.kind === "sid" && revocation.id === family.id &&
          revocation.expiresAt >= family.accessExpiresAt
        );
        if (family.revokedAt === null || !covered) alive.push(hash);
      }
      assert.deepEqual(alive, []);
    },
  );
}

/** A removal at `now` refusing the client's access tokens until a second later, for a day. */
function removalAt(now: number): ClientRemoval {
  return { now, tokensIssuedUntil: now + 1, tokensAcceptedUntil: now + 86_400 };
}
