/**
 * @module
 * The administrator's passkey commands over a real server's store: `user factors` lists a
 * user's passkeys (never a key), `user passkey-remove NAME ID` removes one and ends the user's
 * sessions as `user passwd` does, and `user mfa-reset` removes the passkeys with the rest.
 */
import assert from "node:assert/strict";
import {
  answerWithPasskey,
  passkeyOf,
  passkeyTest,
  signInWithPasskey,
} from "./helpers/passkeys.ts";
import { runCli } from "./helpers/process.ts";
import { accountPage } from "./helpers/second_factor.ts";
import { subjectOf } from "./helpers/server.ts";

passkeyTest(
  "user factors lists passkeys and user passkey-remove removes one, ending the user's sessions",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const { browser } = await signInWithPasskey(server, app, key);
    assert.equal((await accountPage(browser)).res.status, 200);

    const listed = await runCli(["user", "factors", "alice"], { cwd: server.dir });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /authenticator app {2}none/);
    const line = listed.stdout.split("\n").find((each) => each.startsWith("passkey "));
    assert.ok(line && line.includes(key.credentialId), listed.stdout);
    assert.match(line, /"Software key" {2}device-bound, added \d{4}-.*, used \d{4}-/);
    const stored = await server.store.getPasskey(key.credentialId);
    assert.ok(!listed.stdout.includes(stored!.publicKey), "no key is printed");

    const wrong = await runCli(["user", "passkey-remove", "alice", "no-such-id"], {
      cwd: server.dir,
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /User "alice" has no passkey "no-such-id"/);
    const removed = await runCli(["user", "passkey-remove", "alice", key.credentialId], {
      cwd: server.dir,
    });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /Removed the passkey ".*" of "alice" and ended [1-9]\d* session/);
    // The browser it signed in is signed out, and the passkey signs in no more.
    assert.equal((await accountPage(browser)).res.status, 303);
    const { res: refused } = await answerWithPasskey(server, app, key);
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /not accepted/);
    const after = await runCli(["user", "factors", "alice"], { cwd: server.dir });
    assert.match(after.stdout, /"alice" has no second factor/);
  },
);

passkeyTest(
  "user mfa-reset removes every passkey of the user, and user --help says so",
  async ({ server }) => {
    await passkeyOf(server, "alice");
    await passkeyOf(server, "alice");
    const reset = await runCli(["user", "mfa-reset", "alice"], { cwd: server.dir });
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /Removed the second factor of "alice"/);
    assert.deepEqual(await server.store.listPasskeys(await subjectOf(server, "alice")), []);
    const help = await runCli(["user", "--help"], { cwd: server.dir });
    assert.match(help.stdout, /passkey-remove NAME ID/);
    assert.match(help.stdout, /authenticator app, recovery codes and passkeys/);
  },
);
