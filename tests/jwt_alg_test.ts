/**
 * @module
 * The access tokens' signing algorithm (JWT_ALG) over real HTTPS: for each algorithm, login,
 * /hello, the JWKS and the metadata all speak it and jose verifies the token from the JWKS;
 * switching needs `keys rotate`, old tokens verify until their key retires, and a server started
 * with another JWT_ALG than its current key's warns and keeps that key.
 */
import assert from "node:assert/strict";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  jwtVerify,
} from "jose";
import { runCli } from "./helpers/process.ts";
import {
  accessTokenJwks,
  hello,
  loginToken,
  loginTokens,
  startTestServer,
  subjectOf,
  type TestServer,
} from "./helpers/server.ts";

const USERS = { user1: "password1" };
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
const KEY_TYPES: Record<string, Record<string, string>> = {
  ES256: { kty: "EC", crv: "P-256" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
  RS256: { kty: "RSA" },
};

type Json = Record<string, unknown>;

async function getJson(server: TestServer, path: string): Promise<Json> {
  const res = await fetch(`${server.url}${path}`, { client: server.client });
  assert.equal(res.status, 200);
  return await res.json();
}

function flipSignature(token: string): string {
  const [h, p, s] = token.split(".");
  return `${h}.${p}.${(s[0] === "A" ? "B" : "A") + s.slice(1)}`;
}

/** Verifies `token` as a third party would: with jose and only the served JWKS document. */
async function verifyWithJwks(server: TestServer, token: string, algorithms: string[]) {
  const metadata = await getJson(server, "/.well-known/oauth-authorization-server");
  const jwks = await getJson(server, new URL(metadata.jwks_uri as string).pathname);
  return await jwtVerify(token, createLocalJWKSet(jwks as unknown as JSONWebKeySet), {
    issuer: server.config.issuer,
    audience: server.config.audience,
    algorithms,
    typ: "at+jwt",
  });
}

/** Polls `probe` until it returns a value `done` accepts, for at most `ms`. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 10_000) {
  let value = await probe();
  for (const deadline = Date.now() + ms; !done(value) && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    value = await probe();
  }
  return value;
}

for (const alg of ["EdDSA", "RS256"]) {
  Deno.test(`JWT_ALG=${alg}: login, /hello, JWKS and metadata all speak ${alg}, and jose verifies the token from the JWKS`, async () => {
    await using server = await startTestServer({ users: USERS, env: { JWT_ALG: alg } });
    const token = await loginToken(server);
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, alg);
    assert.equal(header.typ, "at+jwt");

    const ok = await hello(server, `Bearer ${token}`);
    assert.equal(ok.res.status, 200);
    assert.deepEqual(ok.body, { message: "Hello, user1! You're authenticated." });

    const keys = await accessTokenJwks(server);
    assert.equal(keys.length, 1);
    assert.equal(keys[0].kid, header.kid);
    assert.equal(keys[0].alg, alg);
    assert.equal(keys[0].use, "sig");
    for (const [member, value] of Object.entries(KEY_TYPES[alg])) {
      assert.equal(keys[0][member], value);
    }
    for (const member of PRIVATE_MEMBERS) assert.equal(keys[0][member], undefined, member);
    if (alg === "RS256") {
      const modulus = Uint8Array.fromBase64(keys[0].n as string, { alphabet: "base64url" });
      assert.equal(modulus.length * 8, 2048);
    }

    const metadata = await getJson(server, "/.well-known/oauth-authorization-server");
    assert.deepEqual(metadata.access_token_signing_alg_values_supported, [alg]);

    const { payload, protectedHeader } = await verifyWithJwks(server, token, [alg]);
    assert.equal(payload.sub, await subjectOf(server, "user1"));
    assert.equal(protectedHeader.alg, alg);
    await assert.rejects(
      verifyWithJwks(server, flipSignature(token), [alg]),
      errors.JWSSignatureVerificationFailed,
    );

    // The server refuses the same forgery, and a token naming another algorithm for this key.
    const forged = await hello(server, `Bearer ${flipSignature(token)}`);
    assert.equal(forged.res.status, 401);
    assert.equal(forged.body.msg, "Signature verification failed");
    const [, payloadPart, signature] = token.split(".");
    const otherAlg = new TextEncoder().encode(
      JSON.stringify({ ...header, alg: alg === "RS256" ? "PS256" : "ES256" }),
    ).toBase64({ alphabet: "base64url", omitPadding: true });
    const confused = await hello(server, `Bearer ${otherAlg}.${payloadPart}.${signature}`);
    assert.equal(confused.res.status, 401);
    assert.equal(confused.body.msg, "Unexpected token algorithm");

    // The whole lifecycle: refresh, then logout.
    const refreshed = await fetch(`${server.url}/refresh`, {
      method: "POST",
      client: server.client,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        refresh_token: (await loginTokens(server)).refresh,
      }),
    });
    const pair = await refreshed.json();
    assert.equal(refreshed.status, 200, JSON.stringify(pair));
    assert.equal(decodeProtectedHeader(pair.access_token).alg, alg);
    assert.equal((await hello(server, `Bearer ${pair.access_token}`)).res.status, 200);
  });
}

Deno.test("changing JWT_ALG then keys rotate switches the algorithm; tokens of the old key verify until it retires", async () => {
  await using server = await startTestServer({ users: USERS });
  const cli = (args: string[], env: Record<string, string>) =>
    runCli(args, {
      // The server's directory holds the default layout (certs/, data/) the keys task may use.
      cwd: server.dir,
      env,
    });
  const before = await loginToken(server);
  assert.equal(decodeProtectedHeader(before).alg, "ES256");
  assert.equal((await hello(server, `Bearer ${before}`)).res.status, 200);

  // The old key retires 3 s after the rotation (its tokens would last 3 s), so the test sees it.
  const rotated = await cli(["keys", "rotate"], {
    JWT_ALG: "EdDSA",
    ACCESS_TOKEN_TTL: "3",
    JWT_LEEWAY: "0",
  });
  assert.equal(rotated.code, 0, rotated.stderr);
  const newKid = /New signing key "([\w-]+)" \(EdDSA\)/.exec(rotated.stdout)?.[1];
  assert.ok(newKid, rotated.stdout);

  const after = await until(
    () => loginToken(server),
    (token) => decodeProtectedHeader(token).alg === "EdDSA",
  );
  assert.equal(decodeProtectedHeader(after).kid, newKid);
  const metadata = await getJson(server, "/.well-known/oauth-authorization-server");
  assert.deepEqual(metadata.access_token_signing_alg_values_supported, ["EdDSA", "ES256"]);
  const jwks = await accessTokenJwks(server);
  assert.deepEqual(jwks.map((key) => key.alg).toSorted(), ["ES256", "EdDSA"]);
  for (const token of [before, after]) {
    assert.equal((await hello(server, `Bearer ${token}`)).res.status, 200);
  }
  const subject = await subjectOf(server, "user1");
  assert.equal((await verifyWithJwks(server, before, ["ES256", "EdDSA"])).payload.sub, subject);
  assert.equal((await verifyWithJwks(server, after, ["ES256", "EdDSA"])).payload.sub, subject);
  const listed = await cli(["keys", "list"], {});
  assert.match(listed.stdout, new RegExp(`^${newKid}  EdDSA  .* current$`, "m"));
  assert.match(listed.stdout, / {2}ES256 {2}.* retires \d{4}-/);

  // Once the old key has retired, it leaves the JWKS and the metadata, and its tokens fail.
  const algs = await until(
    async () =>
      (await getJson(server, "/.well-known/oauth-authorization-server"))
        .access_token_signing_alg_values_supported,
    (value) => JSON.stringify(value) === '["EdDSA"]',
  );
  assert.deepEqual(algs, ["EdDSA"]);
  const keys = await accessTokenJwks(server);
  assert.deepEqual(keys.map((key) => key.kid), [newKid]);
  const refused = await hello(server, `Bearer ${before}`);
  assert.equal(refused.res.status, 401);
  assert.equal(refused.body.msg, "Unknown signing key");
  assert.equal((await hello(server, `Bearer ${after}`)).res.status, 200);
});

Deno.test("a server started with a JWT_ALG other than its current key's warns and keeps signing with that key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "auth-api-alg-" });
  try {
    {
      await using first = await startTestServer({ users: USERS, dir });
      assert.equal(decodeProtectedHeader(await loginToken(first)).alg, "ES256");
    }
    await using second = await startTestServer({ dir, env: { JWT_ALG: "RS256" } });
    assert.equal(decodeProtectedHeader(await loginToken(second)).alg, "ES256");
    const warning = second.logs.find((line) => line.level === "warn");
    assert.ok(warning, JSON.stringify(second.logs));
    assert.equal(
      warning.msg,
      "The current signing key is not of JWT_ALG; run keys rotate to switch",
    );
    assert.equal(warning.jwt_alg, "RS256");
    assert.equal(warning.signing_alg, "ES256");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
