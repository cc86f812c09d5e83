/**
 * @module
 * DPoP-bound grants over real HTTPS: a public client's refresh tokens are bound to its key, the
 * code flow and client credentials answer bound tokens, a client registered with `--dpop` must
 * prove a key, and server nonces (`DPOP_NONCE=true`) are asked for and then accepted.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import {
  callResource,
  dpopHello,
  DpopKey,
  dpopPasswordLogin,
  dpopTokenRequest,
} from "./helpers/dpop.ts";
import {
  authorizationCode,
  authorizeUrl,
  CookieBrowser,
  PASSWORD,
  redirectedTo,
  registerClient,
  registerServiceClient,
} from "./helpers/oidc.ts";
import { startTestServer } from "./helpers/server.ts";

const USER = { username: "alice", password: PASSWORD };

Deno.test("a public client's refresh token refreshes only with a proof of its key, and is not spent by a wrong one", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const key = await DpopKey.generate("EdDSA");
  const { refresh } = await dpopPasswordLogin(server, key, USER);
  const form = { grant_type: "refresh_token", client_id: "auth-api", refresh_token: refresh };
  const htu = `${server.url}/oauth/token`;
  const other = await DpopKey.generate("EdDSA");
  for (
    const [what, proofs] of [
      ["another key", [await other.proof("POST", htu)]],
      ["no proof", []],
    ] as const
  ) {
    const { res, body } = await dpopTokenRequest(server, form, [...proofs]);
    assert.equal(res.status, 400, what);
    assert.equal(body.error, "invalid_grant", what);
  }
  const flask = await fetch(`${server.url}/refresh`, {
    client: server.client,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: refresh }),
  });
  assert.equal(flask.status, 400, "the proofless /refresh cannot refresh a bound family");
  await flask.body?.cancel();
  const { res, body } = await dpopTokenRequest(server, form, [await key.proof("POST", htu)]);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.token_type, "DPoP");
  assert.deepEqual(decodeJwt(body.access_token as string).cnf, { jkt: await key.thumbprint() });
  assert.equal((await dpopHello(server, key, body.access_token as string)).res.status, 200);
  // The new refresh token is bound to the same key.
  const next = { ...form, refresh_token: body.refresh_token as string };
  const wrong = await dpopTokenRequest(server, next, [await other.proof("POST", htu)]);
  assert.equal(wrong.res.status, 400);
});

Deno.test("a confidential client's refresh tokens are not bound; each access token is bound to the proof it came with", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const app = await registerServiceClient(server, { grantTypes: ["password", "refresh_token"] });
  const basic = { id: app.clientId, secret: app.secret! };
  const htu = `${server.url}/oauth/token`;
  const first = await DpopKey.generate();
  const login = await dpopTokenRequest(server, { grant_type: "password", ...USER }, [
    await first.proof("POST", htu),
  ], basic);
  assert.equal(login.res.status, 200, JSON.stringify(login.body));
  const second = await DpopKey.generate();
  const renewed = await dpopTokenRequest(
    server,
    {
      grant_type: "refresh_token",
      refresh_token: login.body.refresh_token as string,
    },
    [await second.proof("POST", htu)],
    basic,
  );
  assert.equal(renewed.res.status, 200, JSON.stringify(renewed.body));
  const claims = decodeJwt(renewed.body.access_token as string);
  assert.deepEqual(claims.cnf, { jkt: await second.thumbprint() });
});

Deno.test("the code flow and client credentials answer DPoP-bound tokens for a proof", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const spa = await registerClient(server, {
    clientId: "spa",
    redirectUris: ["https://app.example/callback"],
  });
  const key = await DpopKey.generate();
  const htu = `${server.url}/oauth/token`;
  const { code, verifier } = await authorizationCode(server, spa);
  const redeemed = await dpopTokenRequest(server, {
    grant_type: "authorization_code",
    code,
    redirect_uri: spa.redirectUri,
    code_verifier: verifier,
    client_id: spa.clientId,
  }, [await key.proof("POST", htu)]);
  assert.equal(redeemed.res.status, 200, JSON.stringify(redeemed.body));
  assert.equal(redeemed.body.token_type, "DPoP");
  const access = redeemed.body.access_token as string;
  const info = await callResource(server, "/userinfo", `DPoP ${access}`, [
    await key.proof("GET", `${server.url}/userinfo`, { accessToken: access }),
  ]);
  assert.equal(info.res.status, 200, JSON.stringify(info.body));
  const refreshed = await dpopTokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: redeemed.body.refresh_token as string,
    client_id: spa.clientId,
  }, [await (await DpopKey.generate()).proof("POST", htu)]);
  assert.equal(refreshed.body.error, "invalid_grant", "the code's family is bound to the key");

  const svc = await registerServiceClient(server, { scope: "hello" });
  const issued = await dpopTokenRequest(server, { grant_type: "client_credentials" }, [
    await key.proof("POST", htu),
  ], { id: svc.clientId, secret: svc.secret! });
  assert.equal(issued.res.status, 200, JSON.stringify(issued.body));
  assert.equal(issued.body.token_type, "DPoP");
  const hello = await dpopHello(server, key, issued.body.access_token as string);
  assert.equal(hello.body.message, "Hello, client svc! You're authenticated.");
});

Deno.test("a client registered to use DPoP gets no token without a proof", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const svc = await registerServiceClient(server, { scope: "hello", dpopBound: true });
  const basic = { id: svc.clientId, secret: svc.secret! };
  const bare = await dpopTokenRequest(server, { grant_type: "client_credentials" }, [], basic);
  assert.equal(bare.res.status, 400);
  assert.equal(bare.body.error, "invalid_dpop_proof");
  const key = await DpopKey.generate();
  const proved = await dpopTokenRequest(server, { grant_type: "client_credentials" }, [
    await key.proof("POST", `${server.url}/oauth/token`),
  ], basic);
  assert.equal(proved.res.status, 200);
  assert.equal(proved.body.token_type, "DPoP");
});

Deno.test("with DPOP_NONCE=true proofs need the server's nonce, at the token endpoint and at /hello", async () => {
  await using server = await startTestServer({
    users: { alice: PASSWORD },
    env: { DPOP_NONCE: "true" },
  });
  const key = await DpopKey.generate();
  const htu = `${server.url}/oauth/token`;
  const form = { grant_type: "password", client_id: "auth-api", ...USER };
  const asked = await dpopTokenRequest(server, form, [await key.proof("POST", htu)]);
  assert.equal(asked.res.status, 400);
  assert.equal(asked.body.error, "use_dpop_nonce");
  const nonce = asked.res.headers.get("dpop-nonce");
  assert.ok(nonce, "the answer names the nonce to use");
  for (const forged of ["forged", `${nonce}x`, nonce.replace(/^[0-9a-z]+/, "1")]) {
    const refused = await dpopTokenRequest(server, form, [
      await key.proof("POST", htu, { nonce: forged }),
    ]);
    assert.equal(refused.body.error, "use_dpop_nonce", forged);
  }
  const issued = await dpopTokenRequest(server, form, [await key.proof("POST", htu, { nonce })]);
  assert.equal(issued.res.status, 200, JSON.stringify(issued.body));
  assert.equal(issued.res.headers.get("dpop-nonce"), nonce, "the answer hands out the nonce too");
  const access = issued.body.access_token as string;
  const without = await dpopHello(server, key, access);
  assert.equal(without.res.status, 401);
  assert.match(without.res.headers.get("www-authenticate")!, /^DPoP .*error="use_dpop_nonce"/);
  assert.equal(without.res.headers.get("dpop-nonce"), nonce);
  assert.equal((await dpopHello(server, key, access, { nonce })).res.status, 200);
});

Deno.test("a code asked for with dpop_jkt is redeemed only with a proof of that key", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const spa = await registerClient(server, {
    clientId: "spa",
    redirectUris: ["https://app.example/callback"],
  });
  const key = await DpopKey.generate("EdDSA");
  const other = await DpopKey.generate("EdDSA");
  const htu = `${server.url}/oauth/token`;
  const dpop_jkt = await key.thumbprint();
  const redeem = async (proofs: string[]) => {
    const { code, verifier } = await authorizationCode(server, spa, { params: { dpop_jkt } });
    return await dpopTokenRequest(server, {
      grant_type: "authorization_code",
      code,
      redirect_uri: spa.redirectUri,
      code_verifier: verifier,
      client_id: spa.clientId,
    }, proofs);
  };
  for (
    const [what, proofs] of [
      ["no proof", []],
      ["a proof of another key", [await other.proof("POST", htu)]],
    ] as const
  ) {
    const { res, body } = await redeem([...proofs]);
    assert.equal(res.status, 400, what);
    assert.equal(body.error, "invalid_dpop_proof", what);
  }
  const { res, body } = await redeem([await key.proof("POST", htu)]);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(decodeJwt(body.access_token as string).cnf, { jkt: dpop_jkt });
  // A dpop_jkt that is no thumbprint is refused at the authorization endpoint, to the client.
  const browser = new CookieBrowser(server);
  const refused = await browser.get(authorizeUrl(server, spa, {
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    dpop_jkt: "not-a-thumbprint",
  }));
  assert.equal(redirectedTo(refused, spa.redirectUri).get("error"), "invalid_request");
});

Deno.test("introspection calls a DPoP-bound token DPoP, and /logout takes it with its proof", async () => {
  await using server = await startTestServer({
    users: { alice: PASSWORD },
    env: {
      OAUTH_CLIENTS: "rs:rs-secret-0123456789abcdefghijklmnopqrstuv",
      OAUTH_INTROSPECTORS: "rs",
    },
  });
  const key = await DpopKey.generate("EdDSA");
  const { access } = await dpopPasswordLogin(server, key, USER);
  const introspected = await fetch(`${server.url}/oauth/introspect`, {
    client: server.client,
    method: "POST",
    headers: { authorization: `Basic ${btoa("rs:rs-secret-0123456789abcdefghijklmnopqrstuv")}` },
    body: new URLSearchParams({ token: access }),
  });
  const body = await introspected.json();
  assert.equal(body.active, true);
  assert.equal(body.token_type, "DPoP");
  assert.deepEqual(body.cnf, { jkt: await key.thumbprint() });

  const logoutUrl = `${server.url}/logout`;
  const asBearer = await callResource(server, "/logout", `Bearer ${access}`, [], "POST");
  assert.equal(asBearer.res.status, 401);
  const proof = await key.proof("POST", logoutUrl, { accessToken: access });
  const out = await callResource(server, "/logout", `DPoP ${access}`, [proof], "POST");
  assert.equal(out.res.status, 200, JSON.stringify(out.body));
  const after = await dpopHello(server, key, access);
  assert.equal(after.res.status, 401);
  assert.match(after.res.headers.get("www-authenticate")!, /^DPoP .*error="invalid_token"/);
});
