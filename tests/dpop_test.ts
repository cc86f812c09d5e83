/**
 * @module
 * DPoP (RFC 9449) over real HTTPS on one instance: tokens bound to the key of the proof at the
 * token endpoint, resources that take them only with a proof of that key for the very request,
 * and every hand-made proof a careful server refuses, at the token endpoint and at `/hello`.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import {
  accessTokenHash,
  callResource,
  dpopHello,
  DpopKey,
  dpopPasswordLogin,
  dpopTokenRequest,
  hmacProof,
  unsignedJws,
} from "./helpers/dpop.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const USER = { username: "alice", password: "alice-password-1" };

function start(): Promise<TestServer> {
  return startTestServer({ users: { alice: USER.password } });
}

function passwordForm(): Record<string, string> {
  return { grant_type: "password", client_id: "auth-api", ...USER };
}

Deno.test("POST /oauth/token with a DPoP proof answers a DPoP token bound to the proof's key", async () => {
  await using server = await start();
  for (const alg of ["ES256", "EdDSA"] as const) {
    const key = await DpopKey.generate(alg);
    const { access, body } = await dpopPasswordLogin(server, key, USER);
    assert.equal(body.token_type, "DPoP");
    assert.deepEqual(decodeJwt(access).cnf, { jkt: await key.thumbprint() });
    const hello = await dpopHello(server, key, access);
    assert.equal(hello.res.status, 200, JSON.stringify(hello.body));
    assert.equal(hello.body.message, "Hello, alice! You're authenticated.");
  }
});

Deno.test("POST /oauth/token without a proof still answers Bearer tokens that /hello takes as before", async () => {
  await using server = await start();
  const { res, body } = await dpopTokenRequest(server, passwordForm(), []);
  assert.equal(res.status, 200);
  assert.equal(body.token_type, "Bearer");
  assert.equal(decodeJwt(body.access_token as string).cnf, undefined);
  const hello = await callResource(server, "/hello", `Bearer ${body.access_token}`, []);
  assert.equal(hello.res.status, 200);
  // A Bearer token is not a DPoP one, proof or not.
  const key = await DpopKey.generate();
  const asDpop = await dpopHello(server, key, body.access_token as string);
  assert.equal(asDpop.res.status, 401);
  assert.match(asDpop.res.headers.get("www-authenticate")!, /^DPoP .*error="invalid_token"/);
});

Deno.test("POST /oauth/token refuses every malformed or misdirected proof with invalid_dpop_proof", async () => {
  await using server = await start();
  const key = await DpopKey.generate();
  const htu = `${server.url}/oauth/token`;
  const now = Math.floor(Date.now() / 1000);
  const claims = { htm: "POST", htu, iat: now, jti: crypto.randomUUID() };
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const replayed = await key.proof("POST", htu);
  assert.equal((await dpopTokenRequest(server, passwordForm(), [replayed])).res.status, 200);
  const cases: [string, string[]][] = [
    ["a proof for another URL", [await key.proof("POST", `${server.url}/oauth/revoke`)]],
    ["a proof for another host", [await key.proof("POST", "https://evil.example/oauth/token")]],
    ["a proof for another method", [await key.proof("GET", htu)]],
    ["an iat two minutes old", [await key.proof("POST", htu, { iat: now - 120 })]],
    ["an iat two minutes ahead", [await key.proof("POST", htu, { iat: now + 120 })]],
    ["a replayed jti", [replayed]],
    ["a private key in the JWK", [
      await key.proof("POST", htu, { header: { jwk: key.privateJwk } }),
    ]],
    ["alg none", [unsignedJws({ typ: "dpop+jwt", alg: "none", jwk: key.publicJwk }, claims)]],
    ["HS256 with its key in the JWK", [await hmacProof(claims, secret)]],
    ["no typ", [await key.proof("POST", htu, { header: { typ: undefined } })]],
    ["typ JWT", [await key.proof("POST", htu, { header: { typ: "JWT" } })]],
    ["no jwk", [await key.proof("POST", htu, { header: { jwk: undefined } })]],
    ["another key's JWK", [
      await key.proof("POST", htu, { header: { jwk: (await DpopKey.generate()).publicJwk } }),
    ]],
    ["no jti", [await key.proof("POST", htu, { claims: { jti: undefined } })]],
    ["no iat", [await key.proof("POST", htu, { claims: { iat: undefined } })]],
    ["two DPoP headers", [await key.proof("POST", htu), await key.proof("POST", htu)]],
    ["a proof that is no JWT", ["not-a-jwt"]],
  ];
  for (const [what, proofs] of cases) {
    const { res, body } = await dpopTokenRequest(server, passwordForm(), proofs);
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`);
    assert.equal(body.error, "invalid_dpop_proof", what);
  }
  const refused = server.logs.filter((line) => line.event === "dpop_proof_refused");
  assert.equal(refused.length, cases.length - 1, "each refusal is in the audit trail");
  assert.equal(server.logs.filter((line) => line.event === "dpop_proof_replayed").length, 1);
});

Deno.test("GET /hello refuses a DPoP-bound token without the right proof, with a DPoP challenge", async () => {
  await using server = await start();
  const key = await DpopKey.generate("EdDSA");
  const { access } = await dpopPasswordLogin(server, key, USER);
  const hello = `${server.url}/hello`;
  const replayed = await key.proof("GET", hello, { accessToken: access });
  assert.equal(
    (await callResource(server, "/hello", `DPoP ${access}`, [replayed])).res.status,
    200,
  );
  const other = await DpopKey.generate("EdDSA");
  const cases: [string, string, string[], string][] = [
    ["presented as Bearer", `Bearer ${access}`, [], "invalid_token"],
    ["presented as Bearer with a proof", `Bearer ${access}`, [replayed], "invalid_token"],
    ["without a proof", `DPoP ${access}`, [], "invalid_dpop_proof"],
    ["with a proof for another URL", `DPoP ${access}`, [
      await key.proof("GET", `${server.url}/userinfo`, { accessToken: access }),
    ], "invalid_dpop_proof"],
    ["with a proof for another method", `DPoP ${access}`, [
      await key.proof("POST", hello, { accessToken: access }),
    ], "invalid_dpop_proof"],
    ["with an ath of another token", `DPoP ${access}`, [
      await key.proof("GET", hello, { ath: await accessTokenHash(`${access}x`) }),
    ], "invalid_dpop_proof"],
    ["without ath", `DPoP ${access}`, [await key.proof("GET", hello)], "invalid_dpop_proof"],
    ["with a replayed jti", `DPoP ${access}`, [replayed], "invalid_dpop_proof"],
    ["with a proof of another key", `DPoP ${access}`, [
      await other.proof("GET", hello, { accessToken: access }),
    ], "invalid_dpop_proof"],
    ["with an old proof", `DPoP ${access}`, [
      await key.proof("GET", hello, { accessToken: access, iat: Date.now() / 1000 - 300 }),
    ], "invalid_dpop_proof"],
  ];
  for (const [what, authorization, proofs, error] of cases) {
    const { res, body } = await callResource(server, "/hello", authorization, proofs);
    assert.equal(res.status, 401, `${what}: ${JSON.stringify(body)}`);
    const challenge = res.headers.get("www-authenticate")!;
    assert.match(challenge, new RegExp(`^DPoP .*error="${error}"`), what);
    assert.match(challenge, /algs="ES256 EdDSA/, what);
  }
  const reasons = server.logs.filter((line) => line.event?.toString().startsWith("dpop_proof_"))
    .map((line) => line.reason).sort();
  assert.deepEqual(reasons, [
    "ath",
    "ath",
    "iat",
    "key_mismatch",
    "method",
    "missing",
    "replayed",
    "url",
  ]);
});

Deno.test("GET /userinfo takes a DPoP-bound token with its proof, for GET and POST", async () => {
  await using server = await start();
  const key = await DpopKey.generate();
  const { access } = await dpopPasswordLogin(server, key, USER);
  for (const method of ["GET", "POST"]) {
    const proof = await key.proof(method, `${server.url}/userinfo`, { accessToken: access });
    const { res, body } = await callResource(
      server,
      "/userinfo",
      `DPoP ${access}`,
      [proof],
      method,
    );
    // The password grant's default scope has no openid: the token is right, its scope is not.
    assert.equal(res.status, 403, JSON.stringify(body));
    assert.match(res.headers.get("www-authenticate")!, /^DPoP .*error="insufficient_scope"/);
  }
  const proof = await key.proof("POST", `${server.url}/oauth/token`);
  const { body } = await dpopTokenRequest(server, { ...passwordForm(), scope: "openid" }, [proof]);
  const token = body.access_token as string;
  for (const method of ["GET", "POST"]) {
    const proof = await key.proof(method, `${server.url}/userinfo`, { accessToken: token });
    const info = await callResource(server, "/userinfo", `DPoP ${token}`, [proof], method);
    assert.equal(info.res.status, 200, JSON.stringify(info.body));
    assert.equal(typeof info.body.sub, "string");
  }
});

Deno.test("GET /hello accepts exactly one of many parallel requests carrying the same proof", async () => {
  await using server = await start();
  const key = await DpopKey.generate();
  const { access } = await dpopPasswordLogin(server, key, USER);
  const proof = await key.proof("GET", `${server.url}/hello`, { accessToken: access });
  const answers = await Promise.all(
    Array.from({ length: 12 }, () => callResource(server, "/hello", `DPoP ${access}`, [proof])),
  );
  assert.deepEqual(answers.map((a) => a.res.status).sort(), [200, ...Array(11).fill(401)]);
});

Deno.test("discovery names the DPoP proof algorithms, asymmetric ones only", async () => {
  await using server = await start();
  const res = await fetch(`${server.url}/.well-known/openid-configuration`, {
    client: server.client,
  });
  const algs = (await res.json()).dpop_signing_alg_values_supported as string[];
  assert.ok(algs.includes("ES256") && algs.includes("EdDSA"), String(algs));
  assert.ok(!algs.some((alg) => alg === "none" || alg.startsWith("HS")), String(algs));
});

Deno.test("refused DPoP proofs are counted by reason in the metrics, replays as replayed", async () => {
  await using server = await startTestServer({
    users: { alice: USER.password },
    env: { METRICS_PORT: "0" },
  });
  const key = await DpopKey.generate();
  const htu = `${server.url}/oauth/token`;
  const proof = await key.proof("POST", htu);
  await dpopTokenRequest(server, passwordForm(), [proof]);
  await dpopTokenRequest(server, passwordForm(), [proof]);
  await dpopTokenRequest(server, passwordForm(), [await key.proof("GET", htu)]);
  const text = await (await fetch(server.running.metricsUrl!)).text();
  const count = (reason: string) =>
    new RegExp(`^auth_dpop_proofs_refused_total\\{reason="${reason}"\\} (\\d+)`, "m").exec(text)
      ?.[1];
  assert.equal(count("replayed"), "1", text);
  assert.equal(count("method"), "1");
  assert.equal(count("signature"), "0", "every reason is there from the start");
});
