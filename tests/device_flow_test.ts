/**
 * @module
 * The device authorization grant (RFC 8628) over HTTPS: the device authorization endpoint, the
 * device page (code, sign-in, confirmation) walked by a cookie-keeping browser, and every answer
 * of the token endpoint to a polling device.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { decodeJwt } from "jose";
import { USER_CODE_ALPHABET } from "../src/auth/sign_in/user_codes.ts";
import * as device from "./helpers/device.ts";
import { CookieBrowser, formFields, PASSWORD, tokenRequest } from "./helpers/oidc.ts";
import { hello, startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { alice: PASSWORD, bob: "bob-password-1" };

async function setUp(): Promise<TestServer> {
  const server = await startTestServer({ users: USERS });
  await device.registerDeviceClient(server, "tv");
  return server;
}

/** Moves a device code's expiry into the past, as ten minutes of waiting would. */
function expireAll(server: TestServer): void {
  const db = new DatabaseSync(`${server.dir}/data/auth.db`);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.prepare("UPDATE device_authorizations SET expires_at = ?").run(
      Math.floor(Date.now() / 1000) - 1,
    );
  } finally {
    db.close();
  }
}

function events(server: TestServer): unknown[] {
  return server.logs.filter((line) => line.msg === "audit").map((line) => line.event);
}

Deno.test("POST /oauth/device_authorization issues a device code and a readable user code", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  assert.match(issued.device_code, /^[A-Za-z0-9_-]{43}$/);
  assert.match(
    issued.user_code,
    new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`),
  );
  assert.equal(issued.verification_uri, `${server.url}/device`);
  const complete = new URL(issued.verification_uri_complete);
  assert.equal(`${complete.origin}${complete.pathname}`, `${server.url}/device`);
  assert.equal(complete.searchParams.get("user_code"), issued.user_code);
  assert.equal(issued.expires_in, 600);
  assert.equal(issued.interval, 5);
  assert.ok(events(server).includes("device_code_issued"));
  assert.ok(
    !server.rawLogs.join("\n").includes(issued.device_code),
    "the device code is never logged",
  );
});

Deno.test("POST /oauth/device_authorization refuses clients and scopes that may not use it", async (t) => {
  await using server = await setUp();
  await device.registerDeviceClient(server, "tv-secret", { confidential: true });
  const { registerClient, REDIRECT_URI } = await import("./helpers/oidc.ts");
  await registerClient(server, { clientId: "web", redirectUris: [REDIRECT_URI] });

  await t.step("a client registered without the grant: unauthorized_client", async () => {
    const { res, body } = await device.deviceAuthorization(server, { client_id: "web" });
    assert.equal(res.status, 400);
    assert.equal(body.error, "unauthorized_client");
  });
  await t.step("an unknown client: invalid_client", async () => {
    const { res, body } = await device.deviceAuthorization(server, { client_id: "nobody" });
    assert.equal(body.error, res.status === 401 ? "invalid_client" : "unauthorized_client");
  });
  await t.step("a confidential client without its secret: invalid_client", async () => {
    const { res, body } = await device.deviceAuthorization(server, { client_id: "tv-secret" });
    assert.equal(res.status, 401);
    assert.equal(body.error, "invalid_client");
  });
  await t.step("a scope beyond the registration: invalid_scope", async () => {
    const { res, body } = await device.deviceAuthorization(server, {
      client_id: "tv",
      scope: "openid admin",
    });
    assert.equal(res.status, 400);
    assert.equal(body.error, "invalid_scope");
  });
});

Deno.test("The device flow: pending, approved in a browser, tokens once, then refused", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv", "openid profile hello");
  const pending = await device.poll(server, "tv", issued.device_code);
  assert.equal(pending.status, 400);
  assert.equal(pending.body.error, "authorization_pending");

  const browser = new CookieBrowser(server);
  const answered = await device.answerDevice(browser, issued.user_code, { password: PASSWORD });
  assert.equal(answered.status, 200, answered.html);
  assert.match(answered.html, /Device connected/);

  const granted = await device.poll(server, "tv", issued.device_code);
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  assert.equal(granted.body.token_type, "Bearer");
  assert.equal(granted.body.scope, "openid profile hello");
  assert.equal(typeof granted.body.refresh_token, "string");
  const idToken = decodeJwt(granted.body.id_token as string);
  assert.equal(idToken.aud, "tv");
  assert.deepEqual(idToken.amr, ["pwd"]);
  const greeting = await hello(server, `Bearer ${granted.body.access_token}`);
  assert.equal(greeting.res.status, 200);
  assert.match(greeting.body.message as string, /alice/);

  const again = await device.poll(server, "tv", issued.device_code);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, "invalid_grant");
  assert.ok(events(server).includes("device_code_approved"));

  const refreshed = await tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: granted.body.refresh_token as string,
    client_id: "tv",
  });
  assert.equal(refreshed.res.status, 200, JSON.stringify(refreshed.body));
});

Deno.test("An approval whose browser sign-in ended before the device polled yields no tokens", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  await device.answerDevice(new CookieBrowser(server), issued.user_code, { password: PASSWORD });
  const ended = await server.store.endUserSessions("alice", Math.floor(Date.now() / 1000));
  assert.ok(ended.sessionsEnded >= 1);
  const refused = await device.poll(server, "tv", issued.device_code);
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error, "invalid_grant");
  assert.match(
    refused.body.error_description as string,
    /sign-in that approved this device has ended/,
  );
});

Deno.test("The device flow: a client without refresh_token gets no refresh token, nor an ID token without openid", async () => {
  await using server = await setUp();
  await device.registerDeviceClient(server, "tv-short", { refresh: false });
  const issued = await device.deviceCode(server, "tv-short", "hello");
  await device.answerDevice(new CookieBrowser(server), issued.user_code, { password: PASSWORD });
  const granted = await device.poll(server, "tv-short", issued.device_code);
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  assert.equal(granted.body.refresh_token, undefined);
  assert.equal(granted.body.id_token, undefined);
  assert.equal(granted.body.scope, "hello");
});

Deno.test("Polling faster than the interval is slow_down, and the interval grows by 5 s each time", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  assert.equal(
    (await device.poll(server, "tv", issued.device_code)).body.error,
    "authorization_pending",
  );
  const first = await device.poll(server, "tv", issued.device_code);
  assert.equal(first.status, 400);
  assert.equal(first.body.error, "slow_down");
  assert.match(first.body.error_description as string, /wait 10 seconds/);
  const second = await device.poll(server, "tv", issued.device_code);
  assert.equal(second.body.error, "slow_down");
  assert.match(second.body.error_description as string, /wait 15 seconds/);
});

Deno.test("A denied device is told access_denied, and its code yields nothing", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  const answered = await device.answerDevice(new CookieBrowser(server), issued.user_code, {
    password: PASSWORD,
    decision: "deny",
  });
  assert.equal(answered.status, 200);
  assert.match(answered.html, /Device not connected/);
  const denied = await device.poll(server, "tv", issued.device_code);
  assert.equal(denied.status, 400);
  assert.equal(denied.body.error, "access_denied");
  assert.equal((await device.poll(server, "tv", issued.device_code)).body.error, "access_denied");
  assert.ok(events(server).includes("device_code_denied"));
});

Deno.test("An expired device code is expired_token, and its user code is no longer taken", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  expireAll(server);
  const expired = await device.poll(server, "tv", issued.device_code);
  assert.equal(expired.status, 400);
  assert.equal(expired.body.error, "expired_token");
  assert.equal(
    events(server).filter((event) => event === "device_code_expired").length,
    1,
  );
  const res = await device.enterCode(new CookieBrowser(server), issued.user_code);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /not valid or has expired/);
  // Reported once: a second poll is still expired_token, and not counted again.
  assert.equal((await device.poll(server, "tv", issued.device_code)).body.error, "expired_token");
  assert.equal(events(server).filter((event) => event === "device_code_expired").length, 1);
});

Deno.test("An unknown or malformed device code is invalid_grant, a missing one invalid_request", async () => {
  await using server = await setUp();
  for (const code of ["x".repeat(43), "short", ""]) {
    const { status, body } = await device.poll(server, "tv", code);
    assert.equal(status, 400);
    assert.equal(
      body.error,
      code === "" ? "invalid_request" : "invalid_grant",
      JSON.stringify(body),
    );
  }
});

Deno.test("A device code of one client polled by another is refused and stays the first client's", async () => {
  await using server = await setUp();
  await device.registerDeviceClient(server, "other-tv");
  const issued = await device.deviceCode(server, "tv");
  await device.answerDevice(new CookieBrowser(server), issued.user_code, { password: PASSWORD });
  const stolen = await device.poll(server, "other-tv", issued.device_code);
  assert.equal(stolen.status, 400);
  assert.equal(stolen.body.error, "invalid_grant");
  assert.match(stolen.body.error_description as string, /another client/);
  const granted = await device.poll(server, "tv", issued.device_code);
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
});

Deno.test("Parallel polls after approval: exactly one gets tokens", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  await device.answerDevice(new CookieBrowser(server), issued.user_code, { password: PASSWORD });
  const polls = await Promise.all(
    Array.from({ length: 12 }, () => device.poll(server, "tv", issued.device_code)),
  );
  const granted = polls.filter((answer) => answer.status === 200);
  assert.equal(granted.length, 1, JSON.stringify(polls.map((answer) => answer.body)));
  for (const refused of polls.filter((answer) => answer.status !== 200)) {
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, "invalid_grant");
  }
});

Deno.test("The device page takes the code however it is typed, and a signed-in browser only confirms", async () => {
  await using server = await setUp();
  const browser = new CookieBrowser(server);
  const first = await device.deviceCode(server, "tv");
  await device.answerDevice(browser, first.user_code, { password: PASSWORD });

  const second = await device.deviceCode(server, "tv");
  const typed = ` ${second.user_code.replace("-", " ").toLowerCase()} `;
  const res = await device.enterCode(browser, typed);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /<h1>Connect this device\?<\/h1>/);
  assert.ok(html.includes(second.user_code), "the confirmation names the code");
  assert.ok(html.includes("tv TV"), "the confirmation names the app");
  assert.match(html, /Call the greeting API as you/);
});

Deno.test("The code in the link is filled in but never taken without the person submitting it", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  const browser = new CookieBrowser(server);
  const res = await browser.get(issued.verification_uri_complete);
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.ok(html.includes(`value="${issued.user_code}"`), html);
  assert.match(html, /<h1>Connect a device<\/h1>/);
  const csp = res.headers.get("content-security-policy")!;
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(html, /<script/);
  assert.equal(
    (await device.poll(server, "tv", issued.device_code)).body.error,
    "authorization_pending",
  );
});

Deno.test("The device page's forms are bound to the browser they were shown to (CSRF)", async (t) => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  await t.step("a code form without its token is refused", async () => {
    const browser = new CookieBrowser(server);
    await device.codeForm(browser);
    const res = await browser.post("/device", { user_code: issued.user_code });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("a code form posted from another browser is refused", async () => {
    const shown = new CookieBrowser(server);
    const fields = await device.codeForm(shown);
    const other = new CookieBrowser(server);
    await device.codeForm(other);
    const res = await other.post("/device", { ...fields, user_code: issued.user_code });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("a confirmation posted from another browser is refused", async () => {
    const person = new CookieBrowser(server);
    let res = await device.enterCode(person, issued.user_code);
    res = await person.signIn(formFields(await res.text()), "alice", PASSWORD);
    const confirmation = formFields(await res.text());
    const attacker = new CookieBrowser(server);
    await device.codeForm(attacker);
    res = await attacker.post("/device/confirm", { ...confirmation, decision: "approve" });
    assert.equal(res.status, 403);
    await res.body?.cancel();
    assert.equal(
      (await device.poll(server, "tv", issued.device_code)).body.error,
      "authorization_pending",
    );
    // The person's own answer still counts, once.
    res = await person.post("/device/confirm", { ...confirmation, decision: "approve" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    res = await person.post("/device/confirm", { ...confirmation, decision: "deny" });
    assert.equal(res.status, 400);
    await res.body?.cancel();
  });
});

Deno.test("Two confirmations of one device raced from two browsers: one answer is recorded", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  const confirmations = await Promise.all(["alice", "bob"].map(async (username) => {
    const browser = new CookieBrowser(server);
    let res = await device.enterCode(browser, issued.user_code);
    res = await browser.signIn(formFields(await res.text()), username, USERS[username as "alice"]);
    return { browser, fields: formFields(await res.text()) };
  }));
  const answers = await Promise.all(
    confirmations.map(({ browser, fields }, index) =>
      browser.post("/device/confirm", { ...fields, decision: index === 0 ? "approve" : "deny" })
    ),
  );
  const statuses = answers.map((res) => res.status).sort();
  await Promise.all(answers.map((res) => res.body?.cancel()));
  assert.deepEqual(statuses, [200, 400]);
  const result = await device.poll(server, "tv", issued.device_code);
  assert.ok(result.status === 200 || result.body.error === "access_denied", JSON.stringify(result));
});

Deno.test("A confidential device client authenticates when it asks for a code and when it polls", async () => {
  await using server = await setUp();
  const { secret } = await device.registerDeviceClient(server, "kiosk", { confidential: true });
  const basic = { id: "kiosk", secret: secret! };
  const { res, body } = await device.deviceAuthorization(server, { scope: "hello" }, basic);
  assert.equal(res.status, 200, JSON.stringify(body));
  const deviceCode = body.device_code as string;
  await device.answerDevice(new CookieBrowser(server), body.user_code as string, {
    password: PASSWORD,
  });
  const form = { grant_type: device.DEVICE_CODE_GRANT, device_code: deviceCode };
  const unauthenticated = await tokenRequest(server, { ...form, client_id: "kiosk" });
  assert.equal(unauthenticated.res.status, 401);
  assert.equal(unauthenticated.body.error, "invalid_client");
  const wrongSecret = await tokenRequest(server, form, { id: "kiosk", secret: "not-it" });
  assert.equal(wrongSecret.res.status, 401);
  const granted = await tokenRequest(server, form, basic);
  assert.equal(granted.res.status, 200, JSON.stringify(granted.body));
  assert.equal(granted.body.scope, "hello");
});
