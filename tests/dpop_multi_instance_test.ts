/**
 * @module
 * DPoP across two `serve` processes on one database (PostgreSQL, and a SQLite file): a proof
 * accepted by one instance is refused by the other, also when both get it at once (exactly one
 * accepts), a nonce one instance hands out is accepted by the other, and a client registered with
 * `clients add --dpop` must prove a key at both.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { callResource, DpopKey, dpopTokenRequest } from "./helpers/dpop.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { runCli } from "./helpers/process.ts";

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL, two instances: a DPoP proof is accepted once across both, nonces are shared, --dpop clients must prove a key",
  fn: () => proofsAcrossInstances("postgres"),
});

Deno.test("SQLite, two instances on one file: a DPoP proof is accepted once across both, nonces are shared", () =>
  proofsAcrossInstances("sqlite"));

async function proofsAcrossInstances(kind: "postgres" | "sqlite"): Promise<void> {
  await using cluster = await startCluster(kind, {}, { DPOP_NONCE: "true" });
  const { a, b, client } = cluster;
  const cli = { cwd: cluster.dir, env: { DATABASE_URL: cluster.databaseUrl } };
  const added = await runCli([
    "clients",
    "add",
    "svc",
    "--grant",
    "client_credentials",
    "--scope",
    "hello",
    "--dpop",
  ], cli);
  assert.equal(added.code, 0, added.stderr);
  const secret = /client_secret: (\S+)/.exec(added.stdout)?.[1];
  assert.ok(secret, added.stdout);
  const listed = await runCli(["clients", "list"], cli);
  assert.match(listed.stdout, /^svc .*\bdpop\b/m);
  const basic = { id: "svc", secret };
  const at = (server: typeof a) => ({ url: server.url, client });
  const issuer = "https://auth.cluster.test";
  const htu = `${issuer}/oauth/token`;
  const form = { grant_type: "client_credentials" };
  const key = await DpopKey.generate("EdDSA");

  // Without a proof: refused at both; the nonce A asks for is accepted by B.
  for (const server of [a, b]) {
    const bare = await dpopTokenRequest(at(server), form, [], basic);
    assert.equal(bare.body.error, "invalid_dpop_proof", server.name);
  }
  const asked = await dpopTokenRequest(at(a), form, [await key.proof("POST", htu)], basic);
  assert.equal(asked.body.error, "use_dpop_nonce");
  const nonce = asked.res.headers.get("dpop-nonce")!;
  const issued = await dpopTokenRequest(at(b), form, [
    await key.proof("POST", htu, { nonce }),
  ], basic);
  assert.equal(issued.res.status, 200, JSON.stringify(issued.body));
  assert.equal(issued.body.token_type, "DPoP");
  const token = issued.body.access_token as string;

  // A proof used at A is a replay at B.
  const proof = await key.proof("GET", `${issuer}/hello`, { accessToken: token, nonce });
  const first = await callResource(at(a), "/hello", `DPoP ${token}`, [proof]);
  assert.equal(first.res.status, 200, JSON.stringify(first.body));
  const replayed = await callResource(at(b), "/hello", `DPoP ${token}`, [proof]);
  assert.equal(replayed.res.status, 401);
  assert.match(replayed.res.headers.get("www-authenticate")!, /error="invalid_dpop_proof"/);

  // The same proof at both at once, several times each: exactly one is accepted.
  const racing = await key.proof("GET", `${issuer}/hello`, { accessToken: token, nonce });
  const answers = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) => callResource(at(i % 2 ? b : a), "/hello", `DPoP ${token}`, [racing]),
    ),
  );
  assert.equal(answers.filter((answer) => answer.res.status === 200).length, 1);

  // And at the token endpoint: one proof, one token.
  const once = await key.proof("POST", htu, { nonce });
  const grants = await Promise.all(
    Array.from({ length: 6 }, (_, i) => dpopTokenRequest(at(i % 2 ? b : a), form, [once], basic)),
  );
  assert.deepEqual(grants.map((grant) => grant.res.status).sort(), [
    200,
    400,
    400,
    400,
    400,
    400,
  ]);
}
