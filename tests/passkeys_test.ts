/**
 * @module
 * Passkeys over real HTTPS with a software authenticator (answers a browser never gives): a
 * passkey alone signs in (amr `hwk`/`swk`, `user`, `mfa`), registration on the account page is
 * discoverable and user-verified for our RP ID only, and every bent answer is refused: another RP
 * ID or origin, no user verification, another account's user handle, a counter gone back, a
 * replayed assertion, a removed passkey; of parallel answers to one challenge exactly one wins.
 */
import assert from "node:assert/strict";
import * as oidc from "./helpers/oidc.ts";
import { PASSWORD } from "./helpers/oidc.ts";
import {
  answerWithPasskey,
  assertPasskeyRefused,
  passkeyAfterPassword,
  passkeyFormFields,
  passkeyOf,
  passkeyTest,
  postPasskey,
  SECOND_FACTOR_PASSKEY_PATH,
  signInPage,
  signInWithPasskey,
} from "./helpers/passkeys.ts";
import { accountPage } from "./helpers/second_factor.ts";
import { subjectOf } from "./helpers/server.ts";
import { dataAttribute, SoftwareAuthenticator } from "./helpers/software_authenticator.ts";

passkeyTest(
  "A passkey alone signs in: amr hwk (device-bound) or swk (synced) with user and mfa, acr aal2",
  async ({ server, app }) => {
    const bound = await passkeyOf(server, "alice");
    const alice = await signInWithPasskey(server, app, bound);
    const claims = await oidc.redeemedIdToken(server, app, alice.code, alice.verifier);
    assert.equal(claims.sub, await subjectOf(server, "alice"));
    assert.deepEqual(claims.amr, ["hwk", "user", "mfa"]);
    assert.equal(claims.acr, "urn:auth-api:aal2");
    const stored = await server.store.getPasskey(bound.credentialId);
    assert.equal(stored?.counter, 1);
    assert.ok(stored?.lastUsedAt);

    const synced = await passkeyOf(server, "bob", { backupEligible: true });
    const bob = await signInWithPasskey(server, app, synced);
    const bobClaims = await oidc.redeemedIdToken(server, app, bob.code, bob.verifier);
    assert.equal(bobClaims.sub, await subjectOf(server, "bob"));
    assert.deepEqual(bobClaims.amr, ["swk", "user", "mfa"]);
    assert.ok(server.logs.some((line) => line.event === "passkey_succeeded"));
  },
);

passkeyTest(
  "An assertion for another RP ID or origin, unverified, with another user handle, a counter gone back or malformed is refused",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const bob = await subjectOf(server, "bob");
    const bent = [
      { rpId: "other.example" },
      { origin: "https://other.example" },
      { userVerified: false },
      { userHandle: new TextEncoder().encode(bob).toBase64({ alphabet: "base64url" }) },
      { userHandle: "" },
    ];
    for (const bend of bent) {
      const { res, browser } = await answerWithPasskey(server, app, key, bend);
      await assertPasskeyRefused(res);
      assert.equal(browser.cookies.size, 1, "a binding cookie only, no session");
    }
    await signInWithPasskey(server, app, key, { counter: 10 });
    const back = await answerWithPasskey(server, app, key, { counter: 9 });
    await assertPasskeyRefused(back.res);
    for (
      const nonsense of [
        "",
        "{}",
        "not json",
        JSON.stringify({ id: "x", rawId: "x", type: "public-key", response: {} }),
      ]
    ) {
      const again = await signInPage(server, app);
      await assertPasskeyRefused(await postPasskey(again.browser, again.fields, nonsense));
    }
    const reasons = server.logs.filter((line) => line.event === "passkey_refused").map((line) =>
      line.reason
    );
    assert.ok(reasons.includes("user_handle"), JSON.stringify(reasons));
  },
);

passkeyTest(
  "Two answers with one counter on two challenges at once (a cloned authenticator): one signs in",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const pages = await Promise.all([signInPage(server, app), signInPage(server, app)]);
    const answers = await Promise.all(
      pages.map((page) => key.assert(page.challenge, { counter: 20 })),
    );
    const results = await Promise.all(
      pages.map((page, index) => postPasskey(page.browser, page.fields, answers[index])),
    );
    const statuses = results.map((res) => res.status);
    await Promise.all(results.map((res) => res.body?.cancel()));
    assert.deepEqual(statuses.toSorted(), [303, 400]);
    const reasons = server.logs.filter((line) => line.event === "passkey_refused")
      .map((line) => line.reason);
    // The later answer is refused by the stored counter: at the store's conditional write, or
    // already by the check when the winner's write came first.
    assert.equal(reasons.length, 1);
    assert.ok(["counter", "unverified"].includes(reasons[0] as string), String(reasons));
    assert.equal((await server.store.getPasskey(key.credentialId))?.counter, 20);
  },
);

passkeyTest(
  "A replayed assertion is refused: its form is spent, and on another form its challenge is not that form's",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const page = await signInPage(server, app);
    const bindingCookie = page.browser.cookie;
    const assertion = await key.assert(page.challenge);
    assert.equal((await postPasskey(page.browser, page.fields, assertion)).status, 303);

    const replayer = new oidc.CookieBrowser(server);
    replayer.cookie = bindingCookie;
    await assertPasskeyRefused(
      await postPasskey(replayer, page.fields, assertion),
      /expired|already used/,
    );
    const fresh = await signInPage(server, app);
    await assertPasskeyRefused(await postPasskey(fresh.browser, fresh.fields, assertion));
    // Another browser cannot post a sign-in page's passkey form at all.
    const other = await signInPage(server, app);
    const stolen = await postPasskey(new oidc.CookieBrowser(server), other.fields, assertion);
    assert.equal(stolen.status, 403);
    await stolen.body?.cancel();
  },
);

passkeyTest(
  "Five answers to one challenge posted at once: exactly one signs in",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const page = await signInPage(server, app);
    // Distinct answers (each with a higher counter) to the same challenge, as a cloned key would.
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, index) => key.assert(page.challenge, { counter: 10 + index })),
    );
    const results = await Promise.all(answers.map((answer) => {
      const browser = new oidc.CookieBrowser(server);
      browser.cookie = page.browser.cookie;
      return postPasskey(browser, page.fields, answer);
    }));
    const statuses = results.map((res) => res.status);
    await Promise.all(results.map((res) => res.body?.cancel()));
    assert.equal(statuses.filter((status) => status === 303).length, 1, String(statuses));
    assert.ok(statuses.every((status) => status === 303 || status === 400), String(statuses));
  },
);

passkeyTest(
  "The account page registers a discoverable, user-verified passkey for our RP ID, never one twice, and removes it",
  async ({ server, app }) => {
    const { browser } = await oidc.authorizationCode(server, app);
    const start = async (name: string) => {
      const overview = await accountPage(browser);
      assert.equal(overview.res.status, 200, overview.html);
      const res = await browser.post("/account/passkeys", {
        ...oidc.formFields(overview.html),
        name,
      });
      const html = await res.text();
      assert.equal(res.status, 200, html);
      assert.match(res.headers.get("content-security-policy")!, /script-src 'self';/);
      return { fields: oidc.formFields(html), options: dataAttribute(html, "data-passkey-create") };
    };
    const finish = (fields: oidc.FormFields, credential: string) =>
      browser.post("/account/passkeys/finish", { ...fields, credential });

    const first = await start("Laptop");
    assert.deepEqual(first.options.authenticatorSelection, {
      residentKey: "required",
      userVerification: "required",
      requireResidentKey: true,
    });
    assert.deepEqual(first.options.excludeCredentials, []);
    assert.equal((first.options.rp as { id: string }).id, "localhost");
    const elsewhere = await SoftwareAuthenticator.create(server.url);
    const refused = await finish(
      first.fields,
      await elsewhere.register(first.options, { rpId: "other.example" }),
    );
    await assertPasskeyRefused(refused, /could not be registered/);
    const unverified = await start("Laptop");
    await assertPasskeyRefused(
      await finish(
        unverified.fields,
        await elsewhere.register(unverified.options, { userVerified: false }),
      ),
      /could not be registered/,
    );
    const alice = await subjectOf(server, "alice");
    assert.deepEqual(await server.store.listPasskeys(alice), []);

    const key = await SoftwareAuthenticator.create(server.url);
    const good = await start("Laptop <1>");
    const answer = await key.register(good.options);
    const added = await finish(good.fields, answer);
    const addedHtml = await added.text();
    assert.equal(added.status, 200, addedHtml);
    assert.match(addedHtml, /Your passkey is added/);
    assert.match(addedHtml, /Laptop &lt;1&gt;/);
    const replayed = await finish(good.fields, answer);
    assert.equal(replayed.status, 400, "the registration's form is spent");
    await replayed.body?.cancel();
    const [stored] = await server.store.listPasskeys(alice);
    assert.equal(stored.id, key.credentialId);
    assert.equal(stored.userVerified, true);
    assert.equal(stored.name, "Laptop <1>");
    assert.ok(server.logs.some((line) => line.event === "passkey_registered"));

    const second = await start("Again");
    assert.deepEqual(
      (second.options.excludeCredentials as { id: string }[]).map((each) => each.id),
      [key.credentialId],
    );
    await assertPasskeyRefused(
      await finish(second.fields, await key.register(second.options)),
      /could not be registered/,
    );

    // The registered passkey signs in; renamed, then removed, it signs in no more.
    await signInWithPasskey(server, app, key);
    const overview = await accountPage(browser);
    const renamed = await browser.post("/account/passkeys/rename", {
      ...oidc.formFields(overview.html),
      id: key.credentialId,
      name: "Work laptop",
    });
    assert.match(await renamed.text(), /Work laptop/);
    const other = await accountPage(browser);
    const unknown = await browser.post("/account/passkeys/remove", {
      ...oidc.formFields(other.html),
      id: "unknown-id",
    });
    await assertPasskeyRefused(unknown, /no such passkey/);
    // Bob's real passkey can be neither renamed nor removed from alice's page.
    const bobsKey = await passkeyOf(server, "bob");
    for (
      const [path, fields] of [
        ["/account/passkeys/rename", { name: "Taken over" }],
        ["/account/passkeys/remove", {}],
      ] as const
    ) {
      const page = await accountPage(browser);
      const res = await browser.post(path, {
        ...oidc.formFields(page.html),
        id: bobsKey.credentialId,
        ...fields,
      });
      await assertPasskeyRefused(res, /no such passkey/);
    }
    const bobs = await server.store.listPasskeys(await subjectOf(server, "bob"));
    assert.deepEqual(bobs.map((passkey) => passkey.name), [bobs[0]?.name]);
    assert.notEqual(bobs[0].name, "Taken over");
    const before = await accountPage(browser);
    const removed = await browser.post("/account/passkeys/remove", {
      ...oidc.formFields(before.html),
      id: key.credentialId,
    });
    assert.match(await removed.text(), /Your passkey is removed/);
    await assertPasskeyRefused((await answerWithPasskey(server, app, key)).res);
    assert.ok(server.logs.some((line) => line.event === "passkey_removed"));
  },
);

passkeyTest(
  "A passkey is the second factor after a password; another account's passkey is not, and /login needs more than the password",
  async ({ server, app }) => {
    const key = await passkeyOf(server, "alice");
    const bobs = await passkeyOf(server, "bob");
    const wrong = await passkeyAfterPassword(server, app);
    assert.doesNotMatch(wrong.html, /name="code"/, "no authenticator app: no code field");
    const options = dataAttribute(wrong.html, "data-passkey-request");
    assert.deepEqual((options.allowCredentials as { id: string }[]).map((each) => each.id), [
      key.credentialId,
    ]);
    const refused = await postPasskey(
      wrong.browser,
      wrong.fields,
      await bobs.assert(wrong.challenge),
      SECOND_FACTOR_PASSKEY_PATH,
    );
    const refusedHtml = await refused.text();
    assert.equal(refused.status, 400, refusedHtml);
    assert.match(refusedHtml, /<h1>Use your passkey<\/h1>/, "asked again, under a new challenge");
    const retry = dataAttribute(refusedHtml, "data-passkey-request").challenge as string;
    assert.notEqual(retry, wrong.challenge);
    const ok = await postPasskey(
      wrong.browser,
      passkeyFormFields(refusedHtml),
      await key.assert(retry),
      SECOND_FACTOR_PASSKEY_PATH,
    );
    const code = oidc.redirectedTo(ok, app.redirectUri).get("code")!;
    const claims = await oidc.redeemedIdToken(server, app, code, wrong.verifier);
    assert.deepEqual(claims.amr, ["pwd", "hwk", "user", "mfa"]);
    assert.equal(claims.acr, "urn:auth-api:aal2");

    const login = await fetch(`${server.url}/login`, {
      client: server.client,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: PASSWORD }),
    });
    const body = await login.json();
    assert.equal(login.status, 400);
    assert.match(body.msg, /second factor/, JSON.stringify(body));
  },
);

passkeyTest(
  "GET /assets/passkeys.js serves the pages' one script as JavaScript, never sniffed",
  async ({ server }) => {
    const res = await fetch(`${server.url}/assets/passkeys.js`, { client: server.client });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.match(text, /navigator\.credentials\.get/);
    assert.match(text, /mediation: "conditional"/);
    const post = await fetch(`${server.url}/assets/passkeys.js`, {
      client: server.client,
      method: "POST",
    });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  },
);
