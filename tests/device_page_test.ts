/**
 * @module
 * The device page (RFC 8628 §3.3) against guessing and without shortcuts: the per-address throttle
 * of user codes (sequential and parallel guesses), the second factor an account has enrolled,
 * and the device flow's audit events and metrics.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { MAX_PENDING_SIGN_INS_PER_ADDRESS } from "../src/auth/sign_in/pending_requests.ts";
import { USER_CODE_GUESSES_PER_MINUTE } from "../src/auth/sign_in/user_code_throttle.ts";
import * as device from "./helpers/device.ts";
import { CookieBrowser, formFields, PASSWORD } from "./helpers/oidc.ts";
import { OATHTOOL, testNeeding } from "./helpers/prerequisites.ts";
import { enrolTotp, nowSeconds, oathtoolCode } from "./helpers/second_factor.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

async function setUp(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer({ users: { alice: PASSWORD }, env });
  await device.registerDeviceClient(server, "tv");
  return server;
}

/** A user code no device was given (the letters of the alphabet, so it has the right shape). */
function unknownCode(issued: string, index: number): string {
  const letters = "BCDFGHJKLMNPQRSTVWXZ";
  const code = `${letters[index % 20]}${letters[(index + 3) % 20]}ZZ-ZZ${letters[index % 7]}B`;
  return code === issued ? "ZZZZ-ZZZZ" : code;
}

Deno.test("The device page refuses more than a few wrong codes a minute from one address, even a right one then", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  const browser = new CookieBrowser(server);
  for (let guess = 0; guess < USER_CODE_GUESSES_PER_MINUTE; guess++) {
    const res = await device.enterCode(browser, unknownCode(issued.user_code, guess));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /That code is not valid or has expired/);
  }
  const refused = await device.enterCode(browser, issued.user_code);
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
  assert.match(
    await refused.text(),
    /Too many wrong codes from your network; try again in \d+ seconds/,
  );
  assert.equal(
    (await device.poll(server, "tv", issued.device_code)).body.error,
    "authorization_pending",
  );
  const reasons = server.logs.filter((line) => line.event === "user_code_refused").map((line) =>
    line.reason
  );
  assert.deepEqual(reasons, [...Array(USER_CODE_GUESSES_PER_MINUTE).fill("unknown"), "throttled"]);
});

Deno.test("Parallel guesses from one address: no more than the minute's budget are looked up", async () => {
  await using server = await setUp();
  const issued = await device.deviceCode(server, "tv");
  const browser = new CookieBrowser(server);
  const guesses = 4 * USER_CODE_GUESSES_PER_MINUTE;
  const forms = [];
  for (let i = 0; i < guesses; i++) forms.push(await device.codeForm(browser));
  const answers = await Promise.all(forms.map(async (fields, i) => {
    const res = await browser.post("/device", {
      ...fields,
      user_code: unknownCode(issued.user_code, i),
    });
    await res.body?.cancel();
    return res.status;
  }));
  assert.equal(answers.filter((status) => status === 400).length, USER_CODE_GUESSES_PER_MINUTE);
  assert.equal(
    answers.filter((status) => status === 429).length,
    guesses - USER_CODE_GUESSES_PER_MINUTE,
  );
});

Deno.test("A right code gives its place back: people who type their code right are never throttled", async () => {
  await using server = await setUp();
  for (let i = 0; i < USER_CODE_GUESSES_PER_MINUTE + 2; i++) {
    const issued = await device.deviceCode(server, "tv");
    const res = await device.enterCode(new CookieBrowser(server), issued.user_code);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<h1>Sign in<\/h1>/);
  }
});

Deno.test("A malformed code is refused with how a code looks, without counting as a guess", async () => {
  await using server = await setUp();
  const browser = new CookieBrowser(server);
  for (const typed of ["", "ABC", "AEIO-UAEI", "<script>", "BCDF-GHJK-LMNP"]) {
    const res = await device.enterCode(browser, typed);
    const html = await res.text();
    assert.equal(res.status, 400, html);
    assert.match(html, /Enter the 8-letter code your device shows/);
    assert.doesNotMatch(html, /<script>/);
  }
  const issued = await device.deviceCode(server, "tv");
  assert.equal((await device.enterCode(browser, issued.user_code)).status, 200);
});

testNeeding([OATHTOOL], {
  name: "An account with an authenticator app must give its code before it can approve a device",
  async fn() {
    await using server = await setUp();
    const first = await device.deviceCode(server, "tv");
    const enrolling = new CookieBrowser(server);
    await device.answerDevice(enrolling, first.user_code, { password: PASSWORD });
    const { secret } = await enrolTotp(enrolling);

    const issued = await device.deviceCode(server, "tv");
    const browser = new CookieBrowser(server);
    let res = await device.enterCode(browser, issued.user_code);
    res = await browser.signIn(formFields(await res.text()), "alice", PASSWORD);
    let html = await res.text();
    assert.match(html, /action="\/sign-in\/second-factor"/, "the code is asked for");
    assert.doesNotMatch(html, /Connect this device/);
    res = await browser.post("/sign-in/second-factor", { ...formFields(html), code: "000000" });
    html = await res.text();
    assert.equal(res.status, 400);
    assert.doesNotMatch(html, /Connect this device/);
    assert.equal(
      (await device.poll(server, "tv", issued.device_code)).body.error,
      "authorization_pending",
    );
    // After 30 s the enrolment's step is over; the next code is a fresh one.
    const at = nowSeconds() + 30;
    res = await browser.post("/sign-in/second-factor", {
      ...formFields(html),
      code: await oathtoolCode(secret, at),
    });
    html = await res.text();
    assert.equal(res.status, 200, html);
    assert.match(html, /<h1>Connect this device\?<\/h1>/);
    res = await browser.post("/device/confirm", { ...formFields(html), decision: "approve" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const granted = await device.poll(server, "tv", issued.device_code);
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    assert.deepEqual(decodeJwt(granted.body.id_token as string).amr, ["pwd", "otp", "mfa"]);
  },
});

Deno.test("A browser signed in before the second factor was enrolled is asked for it again", async () => {
  await using server = await setUp();
  const first = await device.deviceCode(server, "tv");
  const browser = new CookieBrowser(server);
  await device.answerDevice(browser, first.user_code, { password: PASSWORD });
  // Enrolled elsewhere: this browser's session was signed in with the password alone.
  const other = new CookieBrowser(server);
  const second = await device.deviceCode(server, "tv");
  await device.answerDevice(other, second.user_code, { password: PASSWORD });
  await enrolTotpInStore(server);
  const issued = await device.deviceCode(server, "tv");
  const res = await device.enterCode(browser, issued.user_code);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /<h1>Sign in<\/h1>/, "the old session does not do");
});

/** Enrols a factor straight in the store, as a confirmed enrolment leaves it. */
async function enrolTotpInStore(server: TestServer): Promise<void> {
  const now = nowSeconds();
  assert.ok(await server.store.startTotpEnrolment("alice", "JBSWY3DPEHPK3PXP", now));
  assert.ok(
    await server.store.acceptTotpStep("alice", "JBSWY3DPEHPK3PXP", 1, { confirming: true, now }),
  );
}

Deno.test("The device flow's events are audited and counted", async () => {
  await using server = await setUp({ METRICS_PORT: "0" });
  const approved = await device.deviceCode(server, "tv");
  await device.answerDevice(new CookieBrowser(server), approved.user_code, { password: PASSWORD });
  const denied = await device.deviceCode(server, "tv");
  await device.answerDevice(new CookieBrowser(server), denied.user_code, {
    password: PASSWORD,
    decision: "deny",
  });
  await (await device.enterCode(new CookieBrowser(server), "ZZZZ-ZZZZ")).body?.cancel();
  const audited = server.logs.filter((line) => line.msg === "audit");
  const approval = audited.find((line) => line.event === "device_code_approved");
  assert.equal(approval?.subject, "alice");
  assert.equal(approval?.client, "tv");
  assert.ok(audited.some((line) => line.event === "device_code_denied"));
  const metrics = await (await fetch(server.running.metricsUrl!)).text();
  assert.match(metrics, /auth_device_codes_total\{event="issued"\} 2/);
  assert.match(metrics, /auth_device_codes_total\{event="approved"\} 1/);
  assert.match(metrics, /auth_device_codes_total\{event="denied"\} 1/);
  assert.match(metrics, /auth_device_codes_total\{event="expired"\} 0/);
  assert.match(metrics, /auth_user_codes_refused_total\{reason="unknown"\} 1/);
  assert.match(metrics, /auth_user_codes_refused_total\{reason="throttled"\} 0/);
});

Deno.test("The device page's code form counts against its address as a sign-in page does: a new browser's 51st form is a 429 page", async () => {
  await using server = await setUp({ TRUSTED_PROXIES: "127.0.0.1" });
  const open = (address: string) => {
    const browser = new CookieBrowser(server);
    browser.headers = { "x-forwarded-for": address };
    return browser.get(`${server.url}/device`);
  };
  for (let i = 0; i < MAX_PENDING_SIGN_INS_PER_ADDRESS; i++) {
    const res = await open("198.51.100.20");
    await res.body?.cancel();
    assert.equal(res.status, 200, `form ${i}`);
  }
  const over = await open("198.51.100.20");
  const html = await over.text();
  assert.equal(over.status, 429, html);
  assert.ok(Number(over.headers.get("retry-after")) > 0);
  assert.doesNotMatch(html, /name="csrf_token"/);
  const other = await open("198.51.100.21");
  await other.body?.cancel();
  assert.equal(other.status, 200, "another address has places of its own");
});
