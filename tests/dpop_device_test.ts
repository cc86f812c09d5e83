/**
 * @module
 * DPoP with the device authorization grant over HTTPS: a device that polls with a proof gets
 * DPoP-bound tokens (`cnf.jkt`), its public client's refresh family is bound to the key, and the
 * tokens are useless without it.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import * as device from "./helpers/device.ts";
import { dpopHello, DpopKey, dpopTokenRequest } from "./helpers/dpop.ts";
import { CookieBrowser, PASSWORD } from "./helpers/oidc.ts";
import { hello, startTestServer } from "./helpers/server.ts";

Deno.test("A device polling with a DPoP proof gets tokens bound to its key, refreshed only with it", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  await device.registerDeviceClient(server, "tv");
  const code = await device.deviceCode(server, "tv");
  const answered = await device.answerDevice(new CookieBrowser(server), code.user_code, {
    password: PASSWORD,
  });
  assert.equal(answered.status, 200, answered.html);

  const key = await DpopKey.generate("EdDSA");
  const form = { grant_type: device.DEVICE_CODE_GRANT, device_code: code.device_code };
  const tokenUrl = `${server.url}/oauth/token`;
  const { res, body } = await dpopTokenRequest(server, { ...form, client_id: "tv" }, [
    await key.proof("POST", tokenUrl),
  ]);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.token_type, "DPoP");
  const access = body.access_token as string;
  assert.deepEqual(decodeJwt(access).cnf, { jkt: await key.thumbprint() });

  assert.equal((await dpopHello(server, key, access)).res.status, 200);
  assert.equal(
    (await hello(server, `Bearer ${access}`)).res.status,
    401,
    "a bound token is no Bearer",
  );

  const refresh = { grant_type: "refresh_token", refresh_token: body.refresh_token as string };
  const other = await DpopKey.generate("EdDSA");
  const stolen = await dpopTokenRequest(server, { ...refresh, client_id: "tv" }, [
    await other.proof("POST", tokenUrl),
  ]);
  assert.equal(stolen.res.status, 400, JSON.stringify(stolen.body));
  const bare = await dpopTokenRequest(server, { ...refresh, client_id: "tv" }, []);
  assert.equal(bare.res.status, 400, JSON.stringify(bare.body));
  const own = await dpopTokenRequest(server, { ...refresh, client_id: "tv" }, [
    await key.proof("POST", tokenUrl),
  ]);
  assert.equal(own.res.status, 200, JSON.stringify(own.body));
  assert.equal(own.body.token_type, "DPoP");
});
