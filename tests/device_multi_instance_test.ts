/**
 * @module
 * The device flow across two `serve` processes on one PostgreSQL database: a device code issued
 * by one instance is answered at the other and polled at the first; parallel polls at both after
 * approval get tokens once; the interval and the user-code throttle hold across both. The client
 * is registered with `clients add … --grant urn:ietf:params:oauth:grant-type:device_code`.
 */
import assert from "node:assert/strict";
import { USER_CODE_GUESSES_PER_MINUTE } from "../src/auth/sign_in/user_code_throttle.ts";
import { startCluster } from "./helpers/cluster.ts";
import * as device from "./helpers/device.ts";
import { CookieBrowser, PASSWORD } from "./helpers/oidc.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { runCli } from "./helpers/process.ts";

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL, two instances: a device code issued at A, approved at B, polled at A; tokens once across both",
  async fn() {
    await using cluster = await startCluster("postgres", { alice: PASSWORD });
    const { a, b, client } = cluster;
    const added = await runCli([
      "clients",
      "add",
      "tv",
      "--public",
      "--name",
      "Living-room TV",
      "--scope",
      "openid hello",
      "--grant",
      `${device.DEVICE_CODE_GRANT},refresh_token`,
    ], { cwd: cluster.dir, env: { DATABASE_URL: cluster.databaseUrl } });
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /grants=urn:ietf:params:oauth:grant-type:device_code,refresh_token/);
    const atA = { url: a.url, client };
    const atB = { url: b.url, client };

    const issued = await device.deviceCode(atA, "tv");
    assert.equal(issued.verification_uri, "https://auth.cluster.test/device");
    assert.equal(
      (await device.poll(atA, "tv", issued.device_code)).body.error,
      "authorization_pending",
    );
    // Polled at B straight after A: too fast, whichever instance answers.
    const early = await device.poll(atB, "tv", issued.device_code);
    assert.equal(early.body.error, "slow_down", JSON.stringify(early.body));

    const answered = await device.answerDevice(new CookieBrowser(atB), issued.user_code, {
      password: PASSWORD,
    });
    assert.equal(answered.status, 200, answered.html);
    assert.match(answered.html, /Living-room TV/);

    const polls = await Promise.all(
      Array.from({ length: 8 }, (_, i) => device.poll(i % 2 ? atA : atB, "tv", issued.device_code)),
    );
    const granted = polls.filter((answer) => answer.status === 200);
    assert.equal(granted.length, 1, JSON.stringify(polls.map((answer) => answer.body)));
    for (const refused of polls.filter((answer) => answer.status !== 200)) {
      assert.equal(refused.body.error, "invalid_grant");
    }
    const token = granted[0].body.access_token as string;
    const greeted = await cluster.call(a, "/hello", { token });
    assert.equal(greeted.status, 200);

    // Guesses at both count on one budget of the address.
    const other = await device.deviceCode(atB, "tv");
    const browsers = [new CookieBrowser(atA), new CookieBrowser(atB)];
    const forms = [];
    for (let i = 0; i < 12; i++) {
      forms.push({ browser: browsers[i % 2], fields: await device.codeForm(browsers[i % 2]) });
    }
    const guesses = await Promise.all(forms.map(async ({ browser, fields }, i) => {
      const res = await browser.post("/device", {
        ...fields,
        user_code: `ZZZZ-ZZ${"BCDFGHJKLMNP"[i]}Z`,
      });
      await res.body?.cancel();
      return res.status;
    }));
    assert.equal(guesses.filter((status) => status === 400).length, USER_CODE_GUESSES_PER_MINUTE);
    assert.equal(
      guesses.filter((status) => status === 429).length,
      12 - USER_CODE_GUESSES_PER_MINUTE,
    );
    const refusedRight = await device.enterCode(browsers[0], other.user_code);
    assert.equal(refusedRight.status, 429);
    await refusedRight.body?.cancel();
  },
});
