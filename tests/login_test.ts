/**
 * @module
 * POST /login over real HTTPS, as the Flask original's clients use it: the token answer and the
 * claims of its ES256 at+jwt, 400, 413 and 415 for bad bodies and content types with never a 5xx,
 * one password check of the same cost for an unknown user as for a wrong password, no plaintext
 * password anywhere, and a rehash of hashes stored with fewer iterations.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { type PasswordCheck, Passwords } from "../src/auth/accounts/passwords.ts";
import {
  assertTokenResponse,
  login,
  startTestServer,
  subjectOf,
  TEST_MIN_ITERATIONS,
  testHasher,
  type TestServer,
} from "./helpers/server.ts";

const USERS = { user1: "password1" };
const INVALID_CREDENTIALS = '{"msg":"Invalid credentials"}';
/** Throttling off in practice, for tests that send many bad logins. */
const NO_THROTTLE = {
  THROTTLE_ADDRESS_FAILURES_PER_MINUTE: "100000",
  THROTTLE_FREE_FAILURES: "1000",
};
const MAX_BODY_BYTES = 16 * 1024;

/** POSTs a raw body to /login and returns the status, headers and body text. */
async function postLogin(
  server: TestServer,
  body: BodyInit | null,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<{ res: Response; text: string }> {
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers,
    body,
  });
  return { res, text: await res.text() };
}

function msgOf(text: string): string {
  const body = JSON.parse(text);
  assert.equal(typeof body.msg, "string", `JSON body with a msg: ${text}`);
  return body.msg;
}

Deno.test("POST /login answers 200 with access_token, token_type, expires_in, refresh_token and scope", async () => {
  await using server = await startTestServer({ users: USERS });
  const { res, body } = await login(server, "user1", "password1");
  assertTokenResponse(res, body, { deviceToken: true });
});

Deno.test("POST /login signs an ES256 at+jwt with sub (the account's subject), preferred_username, iat, exp = iat + ttl and a fresh jti", async () => {
  await using server = await startTestServer({ users: USERS });
  const first = await login(server, "user1", "password1");
  const second = await login(server, "user1", "password1");
  const token = first.body.access_token as string;

  const header = decodeProtectedHeader(token);
  assert.equal(header.alg, "ES256");
  assert.equal(header.typ, "at+jwt");
  assert.equal(typeof header.kid, "string");
  assert.ok((header.kid as string).length > 0);

  const claims = decodeJwt(token);
  assert.equal(claims.sub, await subjectOf(server, "user1"));
  assert.equal(claims.preferred_username, "user1");
  assert.equal(typeof claims.iat, "number");
  assert.equal(claims.exp! - claims.iat!, 900);
  assert.ok(Math.abs(claims.iat! - Date.now() / 1000) < 60, "iat is about now");
  assert.equal(typeof claims.jti, "string");
  assert.notEqual(claims.jti, decodeJwt(second.body.access_token as string).jti);
});

Deno.test("POST /login uses ACCESS_TOKEN_TTL for expires_in and exp when it is set", async () => {
  await using server = await startTestServer({ users: USERS, env: { ACCESS_TOKEN_TTL: "120" } });
  const { res, body } = await login(server, "user1", "password1");
  assert.equal(res.status, 200);
  assert.equal(body.expires_in, 120);
  const claims = decodeJwt(body.access_token as string);
  assert.equal(claims.exp! - claims.iat!, 120);
});

const BAD_CREDENTIALS: [string, unknown][] = [
  ["a wrong password", { username: "user1", password: "password2" }],
  ["an unknown user", { username: "nobody", password: "password1" }],
  ["a missing username", { password: "password1" }],
  ["a missing password", { username: "user1" }],
  ["an empty object", {}],
  ["an empty username and password", { username: "", password: "" }],
  ["an empty password", { username: "user1", password: "" }],
  ["an empty username", { username: "", password: "password1" }],
  ["a numeric username", { username: 1, password: "password1" }],
  ["a numeric password", { username: "user1", password: 12345678 }],
  ["a null username", { username: null, password: "password1" }],
  ["a null password", { username: "user1", password: null }],
  ["an array username", { username: ["user1"], password: "password1" }],
  ["an array password", { username: "user1", password: ["password1"] }],
  ["an object username", { username: { name: "user1" }, password: "password1" }],
  ["an object password", { username: "user1", password: { value: "password1" } }],
  ["a username that differs in case", { username: "USER1", password: "password1" }],
  ["a password that differs in case", { username: "user1", password: "PASSWORD1" }],
];

for (const [what, payload] of BAD_CREDENTIALS) {
  Deno.test(`POST /login answers 400 "Invalid credentials" for ${what}`, async () => {
    await using server = await startTestServer({ users: USERS, env: NO_THROTTLE });
    const { res, text } = await postLogin(server, JSON.stringify(payload));
    assert.equal(res.status, 400);
    assert.equal(text, INVALID_CREDENTIALS);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  });
}

for (
  const [what, body] of [["a JSON array", "[]"], ["a JSON string", '"user1"'], [
    "JSON null",
    "null",
  ], ["a JSON number", "42"]]
) {
  Deno.test(`POST /login answers 400 asking for a JSON object when the body is ${what}`, async () => {
    await using server = await startTestServer({ users: USERS, env: NO_THROTTLE });
    const { res, text } = await postLogin(server, body);
    assert.equal(res.status, 400);
    assert.match(msgOf(text), /JSON object/);
  });
}

Deno.test("POST /login answers 400 with a msg about JSON for malformed JSON", async () => {
  await using server = await startTestServer({ users: USERS });
  for (const body of ['{"username": "user1", "password": ', "{username: 'user1'}", "", "{}}"]) {
    const { res, text } = await postLogin(server, body);
    assert.equal(res.status, 400, `status for ${JSON.stringify(body)}`);
    assert.match(msgOf(text), /JSON/);
  }
});

Deno.test("POST /login answers 415 for a text/plain or missing content type", async () => {
  await using server = await startTestServer({ users: USERS });
  const credentials = JSON.stringify({ username: "user1", password: "password1" });

  const plain = await postLogin(server, credentials, { "content-type": "text/plain" });
  assert.equal(plain.res.status, 415);
  assert.match(msgOf(plain.text), /application\/json/);

  // A byte body makes fetch send no Content-Type at all.
  const bytes = new TextEncoder().encode(credentials);
  const missing = await postLogin(server, bytes, {});
  assert.equal(missing.res.status, 415);
  assert.match(msgOf(missing.text), /application\/json/);
});

Deno.test("POST /login answers 415 for a form-encoded body", async () => {
  await using server = await startTestServer({ users: USERS });
  const form = new URLSearchParams({ username: "user1", password: "password1" });
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    body: form,
  });
  assert.equal(res.status, 415);
  assert.match(msgOf(await res.text()), /application\/json/);
});

Deno.test("POST /login answers 413 for a body over 16 KiB with a Content-Length", async () => {
  await using server = await startTestServer({ users: USERS });
  const body = JSON.stringify({ username: "user1", password: "x".repeat(MAX_BODY_BYTES) });
  const { res, text } = await postLogin(server, body);
  assert.equal(res.status, 413);
  assert.match(msgOf(text), /larger than 16384 bytes/);
});

Deno.test("POST /login answers 413 for a streamed body of unknown length over 16 KiB", async () => {
  await using server = await startTestServer({ users: USERS });
  const chunk = new TextEncoder().encode("x".repeat(1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"username":"user1","password":"'));
    },
    pull(controller) {
      // 24 KiB in all, then the end, so the request is finite even if the server kept reading.
      if (sent++ < 24) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const res = await fetch(`${server.url}/login`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/json" },
    body: stream,
    duplex: "half",
  } as RequestInit);
  assert.equal(res.status, 413);
  assert.match(msgOf(await res.text()), /larger than 16384 bytes/);
});

Deno.test("POST /login accepts a body of exactly 16 KiB", async () => {
  await using server = await startTestServer({ users: USERS });
  const base = JSON.stringify({ username: "user1", password: "password1", pad: "" });
  const body = base.replace('"pad":""', `"pad":"${"x".repeat(MAX_BODY_BYTES - base.length)}"`);
  assert.equal(body.length, MAX_BODY_BYTES);
  const { res } = await postLogin(server, body);
  assert.equal(res.status, 200);
});

Deno.test("POST /login answers 400 for a body that is not valid UTF-8", async () => {
  await using server = await startTestServer({ users: USERS });
  const prefix = new TextEncoder().encode('{"username":"user1","password":"');
  const body = new Uint8Array([...prefix, 0xff, 0xfe, 0x22, 0x7d]);
  const { res, text } = await postLogin(server, body);
  assert.equal(res.status, 400);
  assert.match(msgOf(text), /UTF-8/);
});

Deno.test("POST /login never answers 5xx for odd bodies and content types", async () => {
  await using server = await startTestServer({ users: USERS, env: NO_THROTTLE });
  const json = { "content-type": "application/json" };
  const cases: [BodyInit, Record<string, string>][] = [
    ["", json],
    ["{", json],
    ["}", json],
    ["[]", json],
    ["{}", json],
    ["0", json],
    ["-1e999", json],
    ["true", json],
    ['""', json],
    ['{"username":"user1"}', json],
    ["[".repeat(8000) + "]".repeat(8000), json],
    ['{"a":'.repeat(2000) + "1" + "}".repeat(2000), json],
    ['{"username":"__proto__","password":"password1"}', json],
    ['{"__proto__":{"username":"user1","password":"password1"}}', json],
    ['{"username":"constructor","password":"toString"}', json],
    ['{"username":"user1\\u0000","password":"password1"}', json],
    ['{"username":"\\ud800","password":"\\udfff"}', json],
    ['{"username":"user1","password":"password1","username":7}', json],
    [JSON.stringify({ username: "u".repeat(5000), password: "p" }), json],
    [JSON.stringify({ username: "user1", password: "p".repeat(1025) }), json],
    [JSON.stringify({ username: "user1' OR '1'='1", password: "' OR '1'='1" }), json],
    [JSON.stringify({ username: "üsér 🙂", password: "pässwörd 🙂" }), json],
    ["\ufeff{}", json],
    [new Uint8Array([0xc0, 0x80]), json],
    [new Uint8Array([0x00, 0x00, 0x00]), json],
    ["{}", { "content-type": "application/json; charset=latin1" }],
    ["{}", { "content-type": "APPLICATION/JSON" }],
    ["{}", { "content-type": "application/merge-patch+json" }],
    ["{}", { "content-type": "application/jsonx" }],
    ["{}", { "content-type": "multipart/form-data; boundary=x" }],
    ["{}", { "content-type": ";;;" }],
    ['{"username":{"$ne":null},"password":{"$ne":null}}', json],
  ];
  for (const [body, headers] of cases) {
    const res = await fetch(`${server.url}/login`, {
      method: "POST",
      client: server.client,
      headers,
      body,
    });
    const text = await res.text();
    assert.ok(res.status < 500, `${res.status} ${text} for ${String(body).slice(0, 60)}`);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    msgOf(text);
  }
  assert.deepEqual(server.logs.filter((line) => line.level === "error"), []);
});

/** Counts the hasher's entry points and the PBKDF2 work (iterations) each login really does. */
class CountingHasher extends Passwords {
  calls: string[] = [];
  iterationsUsed: number[] = [];
  #nested = false;

  override async verify(password: string, stored: string): Promise<PasswordCheck> {
    if (!this.#nested) this.calls.push("verify");
    this.iterationsUsed.push(Number(/\$i=(\d+)\$/.exec(stored)?.[1]));
    return await super.verify(password, stored);
  }

  override async verifyDummy(password: string): Promise<void> {
    this.calls.push("verifyDummy");
    this.#nested = true;
    try {
      await super.verifyDummy(password);
    } finally {
      this.#nested = false;
    }
  }

  reset(): void {
    this.calls = [];
    this.iterationsUsed = [];
  }
}

Deno.test("POST /login does one password check of the same cost for an unknown user and a wrong password", async () => {
  const hasher = new CountingHasher(1000, { minIterations: TEST_MIN_ITERATIONS });
  await using server = await startTestServer({ users: USERS, hasher, env: NO_THROTTLE });
  // Warm up the dummy hash so that later checks are measured alone.
  await postLogin(server, JSON.stringify({ username: "warmup", password: "x" }));

  const cases: [string, unknown, string][] = [
    ["wrong password", { username: "user1", password: "wrong-password" }, "verify"],
    ["unknown user", { username: "nobody", password: "wrong-password" }, "verifyDummy"],
    ["missing password", { username: "user1" }, "verifyDummy"],
    ["missing username", { password: "wrong-password" }, "verifyDummy"],
  ];
  for (const [what, payload, entry] of cases) {
    hasher.reset();
    const { res, text } = await postLogin(server, JSON.stringify(payload));
    assert.equal(res.status, 400, what);
    assert.equal(text, INVALID_CREDENTIALS, what);
    assert.deepEqual(hasher.calls, [entry], `hasher entry points for ${what}`);
    assert.deepEqual(hasher.iterationsUsed, [1000], `PBKDF2 runs for ${what}`);
  }
  hasher.reset();
  const { res } = await login(server, "user1", "password1");
  assert.equal(res.status, 200);
  assert.deepEqual(hasher.calls, ["verify"]);
});

Deno.test("POST /login leaves no plaintext password in the store, its files or the logs", async () => {
  const password = "plaintext-canary-7f3a";
  await using server = await startTestServer({ users: { alice: password } });
  const { res } = await login(server, "alice", password);
  assert.equal(res.status, 200);
  const bad = await postLogin(
    server,
    JSON.stringify({ username: "alice", password: "other-canary-9c1d" }),
  );
  assert.equal(bad.res.status, 400);

  const user = await server.store.getUser("alice");
  assert.ok(user);
  assert.ok(user.passwordHash.startsWith("$pbkdf2-sha256$i="), user.passwordHash);
  assert.ok(!user.passwordHash.includes(password));

  const db = new DatabaseSync(`${server.dir}/data/auth.db`, { readOnly: true });
  try {
    const rows = db.prepare("SELECT * FROM users").all();
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(password));
  } finally {
    db.close();
  }
  for (const file of ["auth.db", "auth.db-wal"]) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(`${server.dir}/data/${file}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const text = new TextDecoder("latin1").decode(bytes);
    assert.ok(!text.includes(password), `${file} holds the password`);
    assert.ok(!text.includes("other-canary-9c1d"), `${file} holds the wrong password`);
  }
  for (const line of server.rawLogs) {
    assert.ok(!line.includes(password) && !line.includes("other-canary-9c1d"), line);
  }
});

Deno.test("POST /login rehashes a password stored with fewer iterations than configured", async () => {
  await using server = await startTestServer({ config: { passwordIterations: 1000 } });
  await server.store.addUser("legacy", await testHasher(500).hash("legacy-password"));

  const wrong = await postLogin(
    server,
    JSON.stringify({ username: "legacy", password: "not-the-password" }),
  );
  assert.equal(wrong.res.status, 400);
  assert.match((await server.store.getUser("legacy"))!.passwordHash, /^\$pbkdf2-sha256\$i=500\$/);

  const first = await login(server, "legacy", "legacy-password");
  assert.equal(first.res.status, 200);
  const stored = (await server.store.getUser("legacy"))!.passwordHash;
  assert.match(stored, /^\$pbkdf2-sha256\$i=1000\$/);
  assert.ok(!stored.includes("legacy-password"));

  const again = await login(server, "legacy", "legacy-password");
  assert.equal(again.res.status, 200);
  assert.equal((await server.store.getUser("legacy"))!.passwordHash, stored, "no second rehash");
});
