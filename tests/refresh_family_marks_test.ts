/**
 * A refresh family marked as a confidential client's between the read of the presented token and
 * its rotation (by an instance that starts with the client configured meanwhile) is refused as the
 * family of a client that is gone: the rotation decides on the family it locked, not on what was
 * read before.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ClientRegistry } from "../src/auth/clients/registry.ts";
import { AuthFailure } from "../src/auth/errors.ts";
import { randomSecret, sha256Hex } from "../src/auth/secrets.ts";
import { RefreshFamilies } from "../src/auth/tokens/refresh_families.ts";
import { Revocations } from "../src/auth/tokens/revocations.ts";
import { unixNow } from "../src/clock.ts";
import type { TokenStore } from "../src/store/tokens.ts";
import { es256 } from "./helpers/access_tokens.ts";

Deno.test("RefreshFamilies.refresh refuses a family marked after its token was read, once its client is not configured, without rotating it", async () => {
  await using f = await es256();
  const now = unixNow();
  const hash = "$hash-a";
  await f.store.addUser("alice", hash);
  const refreshToken = randomSecret();
  const tokenHash = await sha256Hex(refreshToken);
  await f.store.startRefreshFamily({
    id: "f-svc",
    username: "alice",
    subject: "subject-alice",
    clientId: "svc",
    createdAt: now,
    expiresAt: now + 86400,
    accessExpiresAt: now + 930,
    revokedAt: null,
    dpopJkt: null,
    clientConfidential: false,
  }, {
    tokenHash,
    familyId: "f-svc",
    scope: "hello",
    createdAt: now,
    expiresAt: now + 3600,
    usedAt: null,
  }, hash);
  // Another instance, started with "svc" in OAUTH_CLIENTS, marks the family right after the read.
  const store: TokenStore = Object.create(f.store);
  store.getRefreshToken = async (presented) => {
    const state = await f.store.getRefreshToken(presented);
    assert.equal(await f.store.markConfidentialFamilies(["svc"], now), 1);
    return state;
  };
  const revocations = await Revocations.open(f.store);
  const families = new RefreshFamilies({
    store,
    tokens: f.tokens,
    revocations,
    clients: new ClientRegistry({}, "auth-api", { store: f.store }),
  }, {
    refreshTtlSeconds: 86400,
    refreshIdleTtlSeconds: 3600,
    scopes: { supported: ["hello"], defaultScope: "hello" },
  });
  await assert.rejects(
    families.refresh(refreshToken),
    (error) => error instanceof AuthFailure && error.code === "invalid_client",
  );
  const after = await f.store.getRefreshToken(tokenHash);
  assert.equal(after?.token.usedAt, null, "the token was not rotated");
  assert.notEqual(after?.family.revokedAt, null, "the family ended");
  revocations.close();
});
