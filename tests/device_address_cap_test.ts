/**
 * @module
 * The cap on device codes per client address over HTTPS (RFC 8628 §3.1 from public clients, which
 * anyone may name): parallel requests from one address never get more than the cap, the next is
 * a 429 OAuth error with `Retry-After`, other addresses and confidential clients are served, and
 * a code exchanged or expired frees its place; refusals are audited and counted.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MAX_UNAUTHENTICATED_DEVICE_CODES_PER_ADDRESS } from "../src/auth/sign_in/device_authorizations.ts";
import * as device from "./helpers/device.ts";
import { postForm } from "./helpers/forms.ts";
import { basicHeaders, CookieBrowser, PASSWORD } from "./helpers/oidc.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const CAP = MAX_UNAUTHENTICATED_DEVICE_CODES_PER_ADDRESS;
const CROWDED = "203.0.113.5";

/** Asks for a device code for `clientId` from `address` (forwarded by the trusted proxy). */
function ask(
  server: TestServer,
  address: string,
  clientId = "tv",
  headers: HeadersInit = {},
): Promise<{ res: Response; body: Record<string, unknown> }> {
  return postForm(server, "/oauth/device_authorization", {
    client_id: clientId,
    scope: "openid hello",
  }, { ...headers, "x-forwarded-for": address });
}

/** Moves the expiry of every device code of `address` into the past. */
function expireFrom(server: TestServer, address: string): void {
  const db = new DatabaseSync(`${server.dir}/data/auth.db`);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.prepare("UPDATE device_authorizations SET expires_at = ? WHERE address = ?")
      .run(Math.floor(Date.now() / 1000) - 1, address);
  } finally {
    db.close();
  }
}

function assertRefused(answer: { res: Response; body: Record<string, unknown> }): void {
  assert.equal(answer.res.status, 429, JSON.stringify(answer.body));
  assert.equal(answer.body.error, "temporarily_unavailable");
  assert.equal(typeof answer.body.error_description, "string");
  assert.ok(Number(answer.res.headers.get("retry-after")) >= 1);
}

Deno.test(`POST /oauth/device_authorization keeps at most ${CAP} waiting public-client codes per client address`, async (t) => {
  await using server = await startTestServer({
    users: { alice: PASSWORD },
    env: { TRUSTED_PROXIES: "127.0.0.1", METRICS_PORT: "0" },
  });
  await device.registerDeviceClient(server, "tv");
  const { secret } = await device.registerDeviceClient(server, "tv-secret", { confidential: true });
  const issued: device.DeviceCodeAnswer[] = [];

  await t.step(`${CAP + 10} parallel requests from one address: exactly ${CAP} codes`, async () => {
    const answers = await Promise.all(
      Array.from({ length: CAP + 10 }, () => ask(server, CROWDED)),
    );
    const served = answers.filter(({ res }) => res.status === 200);
    assert.equal(served.length, CAP);
    for (const answer of answers) if (answer.res.status !== 200) assertRefused(answer);
    issued.push(...served.map(({ body }) => body as unknown as device.DeviceCodeAnswer));
    assertRefused(await ask(server, CROWDED));
  });

  await t.step("another address and a confidential client are still served", async () => {
    assert.equal((await ask(server, "198.51.100.7")).res.status, 200);
    const basic = basicHeaders({ id: "tv-secret", secret: secret! });
    const confidential = await Promise.all(
      Array.from({ length: 3 }, () => ask(server, CROWDED, "tv-secret", basic)),
    );
    assert.deepEqual(confidential.map(({ res }) => res.status), [200, 200, 200]);
  });

  await t.step("an approved code holds its place until exchanged, then frees it", async () => {
    await device.answerDevice(new CookieBrowser(server), issued[0].user_code, {
      password: PASSWORD,
    });
    assertRefused(await ask(server, CROWDED));
    const tokens = await device.poll(server, "tv", issued[0].device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal((await ask(server, CROWDED)).res.status, 200);
    assertRefused(await ask(server, CROWDED));
  });

  await t.step("expired codes free their places, and still answer expired_token", async () => {
    expireFrom(server, CROWDED);
    const answers = await Promise.all(
      Array.from({ length: CAP + 5 }, () => ask(server, CROWDED)),
    );
    assert.equal(answers.filter(({ res }) => res.status === 200).length, CAP);
    const old = await device.poll(server, "tv", issued[1].device_code);
    assert.equal(old.body.error, "expired_token");
  });

  await t.step("refusals are audited and counted", async () => {
    const refusals = server.logs.filter((line) =>
      line.msg === "audit" && line.event === "device_code_refused"
    );
    assert.equal(refusals.length, 10 + 1 + 1 + 1 + 5);
    assert.ok(refusals.every((line) => line.reason === "too_many_sign_ins"));
    assert.ok(refusals.every((line) => line.client === "tv"));
    const metrics = await (await fetch(server.running.metricsUrl!)).text();
    assert.match(metrics, /auth_device_codes_total\{event="refused"\} 18/);
  });
});
