/**
 * @module
 * Access tokens across a rotation of the signing key: new tokens carry the new kid while old ones
 * verify until their key retires, and a retired key's tokens are refused even when verified (and
 * cached) before.
 */
import assert from "node:assert/strict";
import { generateSigningKey } from "../src/auth/tokens/signing_keys.ts";
import { unixNow } from "../src/clock.ts";
import { assertAccepted, assertRefused, FORGERY_USERS, headerOf } from "./helpers/forged_tokens.ts";
import { jwksKids, loginToken, startTestServer } from "./helpers/server.ts";
import { waitFor } from "./helpers/wait.ts";

Deno.test("after a key rotation new tokens carry the new kid and old tokens verify until retireAt", async () => {
  await using server = await startTestServer({ users: FORGERY_USERS });
  const before = await loginToken(server);
  const oldKid = headerOf(before).kid;
  await assertAccepted(server, before);

  const now = unixNow();
  const next = await generateSigningKey(now);
  await server.store.rotateSigningKey(next, now + 60, now);
  await waitFor(
    "the server to re-read its signing keys",
    async () => (await jwksKids(server)).includes(next.kid),
  );

  const after = await loginToken(server);
  const newKid = headerOf(after).kid;
  assert.equal(newKid, next.kid);
  assert.notEqual(newKid, oldKid);
  await assertAccepted(server, after);
  await assertAccepted(server, before);
});

Deno.test("a token whose signing key has retired is refused even when it was verified before", async () => {
  await using server = await startTestServer({ users: FORGERY_USERS });
  const token = await loginToken(server);
  await assertAccepted(server, token);
  assert.ok(server.running.tokens.cachedCount > 0);

  const oldKid = headerOf(token).kid;
  const now = unixNow();
  const next = await generateSigningKey(now);
  await server.store.rotateSigningKey(next, now, now);
  await waitFor("the server to re-read its signing keys", async () => {
    const kids = await jwksKids(server);
    return kids.includes(next.kid) && !kids.includes(oldKid as string);
  });

  await assertRefused(server, token, "Unknown signing key");
  await assertAccepted(server, await loginToken(server));
});
