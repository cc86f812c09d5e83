/**
 * @module
 * The clients part of the store contract: registered OAuth clients.
 */
import assert from "node:assert/strict";
import { StoreFailure } from "../../src/store/errors.ts";
import { clientRecord, type ContractContext, HASH, NOW } from "./setup.ts";

/** Registers the clients cases. */
export function clientsContract({ test }: ContractContext): void {
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
    assert.equal(await store.removeClient("app"), true);
    assert.equal(await store.getClient("app"), undefined);
    assert.equal(await store.getConsent("alice", "app"), undefined);
    assert.equal(await store.getConsent("alice", "other"), "openid");
    assert.ok(await store.getClient("other"));
    assert.equal(await store.removeClient("app"), false);
  });

  test("setClientSecretHash replaces the hash, false for no such client", async (store) => {
    await store.addClient(clientRecord("app"));
    await store.addClient(clientRecord("other"));
    assert.equal(await store.setClientSecretHash("app", "1".repeat(64)), true);
    assert.equal((await store.getClient("app"))?.secretHash, "1".repeat(64));
    assert.equal((await store.getClient("other"))?.secretHash, "f".repeat(64));
    assert.equal(await store.setClientSecretHash("nobody", "1".repeat(64)), false);
  });
}
