/**
 * @module
 * What every answer and log line of the real HTTPS server must hold: HSTS, nosniff, JSON, no-store
 * and a unique x-request-id on every answer; one JSON access-log line per request naming the
 * token's client and never a password, token or Authorization header; oversized header blocks and
 * dribbled bodies refused without a 5xx; a store failure answered 500 with the request id and no
 * stack; OAuth's error shape for refused bodies.
 */
import assert from "node:assert/strict";
import {
  authorizationCode,
  PASSWORD as ALICE_PASSWORD,
  redeem,
  registerClient,
} from "./helpers/oidc.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { user1: "password1" };
const PASSWORD = "password1";
const JSON_TYPE = "application/json; charset=utf-8";
/** One free failure per account (a 60 s block after it), so a 429 is one request away. */
const ENV = { THROTTLE_FREE_FAILURES: "1", THROTTLE_BASE_DELAY: "60", THROTTLE_MAX_DELAY: "60" };

interface Answer {
  label: string;
  method: string;
  path: string;
  res: Response;
  text: string;
}

async function call(
  server: TestServer,
  label: string,
  path: string,
  init: RequestInit & { client?: Deno.HttpClient } = {},
): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, { client: server.client, ...init });
  return { label, method: init.method ?? "GET", path, res, text: await res.text() };
}

function loginInit(body: string, contentType = "application/json"): RequestInit {
  return { method: "POST", headers: { "content-type": contentType }, body };
}

/** Makes one request for each kind of answer the service gives; returns them in order. */
async function everyKindOfAnswer(server: TestServer): Promise<Answer[]> {
  const answers: Answer[] = [];
  /** Mallory's guess: 400 the first time, then 429 (one free failure). */
  const guess = () => loginInit(JSON.stringify({ username: "mallory", password: "guess" }));
  const ok = await call(
    server,
    "200 login",
    "/login",
    loginInit(JSON.stringify({ username: "user1", password: PASSWORD })),
  );
  answers.push(ok);
  const token = JSON.parse(ok.text).access_token as string;
  answers.push(
    await call(server, "200 hello", "/hello", { headers: { authorization: `Bearer ${token}` } }),
  );
  answers.push(await call(server, "400 login", "/login", guess()));
  answers.push(await call(server, "401 hello", "/hello"));
  answers.push(
    await call(server, "401 hello (bad token)", "/hello", {
      headers: { authorization: "Bearer a.b.c" },
    }),
  );
  answers.push(await call(server, "404", "/nope"));
  answers.push(await call(server, "405", "/login"));
  answers.push(
    await call(server, "413", "/login", loginInit(JSON.stringify({ pad: "x".repeat(20_000) }))),
  );
  answers.push(await call(server, "415", "/login", loginInit("{}", "text/plain")));
  answers.push(await call(server, "429", "/login", guess()));
  return answers;
}

Deno.test("every answer carries HSTS, nosniff, a JSON content type, no-store, a unique x-request-id and no server header", async () => {
  await using server = await startTestServer({ users: USERS, env: ENV });
  const answers = await everyKindOfAnswer(server);
  assert.deepEqual(
    answers.map(({ res }) => res.status),
    [200, 200, 400, 401, 401, 404, 405, 413, 415, 429],
  );
  const ids = new Set<string>();
  for (const { label, path, res, text } of answers) {
    const headers = res.headers;
    assert.match(headers.get("strict-transport-security") ?? "", /^max-age=\d+/, label);
    assert.ok(
      Number(/max-age=(\d+)/.exec(headers.get("strict-transport-security")!)![1]) >= 31536000,
      label,
    );
    assert.equal(headers.get("x-content-type-options"), "nosniff", label);
    assert.equal(headers.get("content-type"), JSON_TYPE, label);
    assert.equal(headers.get("server"), null, label);
    if (path === "/login" || path === "/hello") {
      assert.equal(headers.get("cache-control"), "no-store", label);
    }
    const id = headers.get("x-request-id");
    assert.ok(id, label);
    assert.ok(!ids.has(id), `${label}: x-request-id repeated`);
    ids.add(id);
    const body = JSON.parse(text);
    if (res.status >= 400) assert.equal(typeof body.msg, "string", label);
  }
  const byLabel = Object.fromEntries(answers.map((answer) => [answer.label, answer.res]));
  assert.equal(byLabel["405"].headers.get("allow"), "POST, OPTIONS");
  assert.match(byLabel["429"].headers.get("retry-after") ?? "", /^\d+$/);
  assert.match(byLabel["401 hello"].headers.get("www-authenticate") ?? "", /^Bearer realm=/);
});

Deno.test("the access log has one JSON line per request with its x-request-id, status, timing and user", async () => {
  await using server = await startTestServer({ users: USERS, env: ENV });
  const answers = await everyKindOfAnswer(server);
  const lines = server.logs.filter((line) => line.msg === "request");
  assert.equal(lines.length, answers.length);
  for (const { label, method, path, res } of answers) {
    const id = res.headers.get("x-request-id");
    const matching = lines.filter((line) => line.request_id === id);
    assert.equal(matching.length, 1, label);
    const [line] = matching;
    assert.equal(line.level, "info");
    assert.equal(line.method, method, label);
    assert.equal(line.path, path, label);
    assert.equal(line.status, res.status, label);
    assert.equal(typeof line.duration_ms, "number", label);
    assert.ok((line.duration_ms as number) >= 0, label);
    assert.equal(line.remote_address, "127.0.0.1", label);
    assert.equal(typeof line.time, "string", label);
    if (label === "200 hello" || label === "200 login") assert.equal(line.user, "user1", label);
    else assert.equal(line.user, undefined, label);
  }
});

Deno.test("the log never contains a password, an access token or an Authorization header", async () => {
  await using server = await startTestServer({ users: USERS, env: ENV });
  const answers = await everyKindOfAnswer(server);
  const token = JSON.parse(answers[0].text).access_token as string;
  await call(server, "wrong password", "/login", {
    ...loginInit(JSON.stringify({ username: "user1", password: "hunter2-secret" })),
  });
  await call(server, "tampered token", "/hello", {
    headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` },
  });
  const raw = server.rawLogs.join("\n");
  assert.ok(server.rawLogs.length >= answers.length + 2);
  for (const secret of [PASSWORD, "hunter2-secret", "guess", token, token.split(".")[2]]) {
    assert.ok(!raw.includes(secret), `log contains ${JSON.stringify(secret.slice(0, 12))}`);
  }
  assert.doesNotMatch(raw, /bearer/i);
  assert.doesNotMatch(raw, /authorization/i);
});

Deno.test("oversized header blocks are refused by the HTTP layer and never reach a 5xx", async () => {
  await using server = await startTestServer({ users: USERS });

  // HTTP/2 (what fetch negotiates) caps the header list at 16 KiB: a bare 431.
  const h2 = await call(server, "431 http/2", "/hello", {
    headers: { "x-big": "a".repeat(20 * 1024) },
  });
  assert.equal(h2.res.status, 431);

  // HTTP/1.1 caps the header block at 64 KiB: a bare 400.
  const http1 = Deno.createHttpClient({ caCerts: [server.certPem], http2: false });
  try {
    const h1 = await call(server, "400 http/1.1", "/hello", {
      client: http1,
      headers: { "x-big": "a".repeat(70 * 1024) },
    });
    assert.equal(h1.res.status, 400);
  } finally {
    http1.close();
  }

  // Just under the HTTP/2 limit still reaches the service.
  const under = await call(server, "401 under limit", "/hello", {
    headers: { "x-big": "a".repeat(15 * 1024) },
  });
  assert.equal(under.res.status, 401);
  for (const line of server.logs) {
    if (line.msg === "request") assert.ok((line.status as number) < 500);
  }
});

Deno.test("POST /login cuts off a body that dribbles with 408 after BODY_TIMEOUT", async () => {
  await using server = await startTestServer({ users: USERS, env: { BODY_TIMEOUT: "1" } });
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(new TextEncoder().encode("{"));
    },
  });
  const started = performance.now();
  try {
    const answer = await call(server, "408", "/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const elapsed = performance.now() - started;
    assert.equal(answer.res.status, 408);
    assert.deepEqual(JSON.parse(answer.text), { msg: "Request body took too long" });
    assert.equal(answer.res.headers.get("content-type"), JSON_TYPE);
    assert.ok(elapsed >= 900 && elapsed < 5000, `answered after ${elapsed} ms`);
  } finally {
    try {
      controller.close();
    } catch {
      // The stream was already cancelled by the client.
    }
  }
});

Deno.test("a store failure answers 500 JSON with the request id and no stack, and logs the error", async () => {
  await using server = await startTestServer({ users: USERS });
  await server.store.close();
  const answer = await call(
    server,
    "500",
    "/login",
    loginInit(JSON.stringify({ username: "user1", password: PASSWORD })),
  );
  assert.equal(answer.res.status, 500);
  const id = answer.res.headers.get("x-request-id");
  assert.ok(id);
  assert.deepEqual(JSON.parse(answer.text), { msg: "Internal server error", request_id: id });
  assert.equal(answer.res.headers.get("content-type"), JSON_TYPE);
  assert.equal(answer.res.headers.get("x-content-type-options"), "nosniff");
  assert.doesNotMatch(answer.text, /\bat |\.ts\b|sqlite|database|stack/i);

  const errors = server.logs.filter((line) => line.level === "error");
  assert.equal(errors.length, 1);
  assert.equal(errors[0].request_id, id);
  assert.equal(errors[0].msg, "Unhandled error");
  assert.match(String(errors[0].error), /\n\s+at /, "the log keeps the stack");
  const access = server.logs.find((line) => line.msg === "request" && line.request_id === id);
  assert.equal(access?.status, 500);
});

Deno.test("OAuth endpoints answer a body they refuse in OAuth's error shape: invalid_request, never cached", async () => {
  await using server = await startTestServer({ users: USERS });
  const form = (body: string, contentType = "application/x-www-form-urlencoded") => ({
    method: "POST",
    headers: { "content-type": contentType },
    body,
  });
  const oversized = `grant_type=password&username=user1&password=${"x".repeat(20_000)}`;
  const cases: [string, string, RequestInit, number, string][] = [
    ["oversized", "/oauth/token", form(oversized), 413, "Request body is larger than 16384 bytes"],
    ["oversized", "/oauth/revoke", form(oversized), 413, "Request body is larger than 16384 bytes"],
    [
      "oversized",
      "/oauth/introspect",
      form(oversized),
      413,
      "Request body is larger than 16384 bytes",
    ],
    [
      "JSON",
      "/oauth/token",
      form("{}", "application/json"),
      415,
      "Content-Type must be application/x-www-form-urlencoded",
    ],
    [
      "not UTF-8",
      "/oauth/token",
      { ...form(""), body: new Uint8Array([0xff, 0xfe]) },
      400,
      "Request body is not valid UTF-8",
    ],
    ["PUT", "/oauth/token", { method: "PUT" }, 405, "Method not allowed"],
  ];
  for (const [what, path, init, status, description] of cases) {
    const answer = await call(server, `${status} ${path}`, path, init);
    const label = `${what} to ${path}`;
    assert.equal(answer.res.status, status, label);
    assert.deepEqual(
      JSON.parse(answer.text),
      { error: "invalid_request", error_description: description },
      label,
    );
    assert.equal(answer.res.headers.get("cache-control"), "no-store", label);
    assert.equal(answer.res.headers.get("pragma"), "no-cache", label);
  }
  // The original tutorial's endpoints keep their shape.
  const login = await call(
    server,
    "413",
    "/login",
    loginInit(JSON.stringify({ pad: "x".repeat(20_000) })),
  );
  assert.deepEqual(JSON.parse(login.text), { msg: "Request body is larger than 16384 bytes" });
});

Deno.test("the access log names the client of the token behind /userinfo and /hello", async () => {
  await using server = await startTestServer({ users: { alice: ALICE_PASSWORD } });
  const app = await registerClient(server, {
    clientId: "app",
    redirectUris: ["https://app.example/callback"],
  });
  const { code, verifier } = await authorizationCode(server, app, {
    params: { scope: "openid profile hello" },
  });
  const { body } = await redeem(server, app, code, verifier);
  const token = body.access_token as string;
  assert.ok(token, JSON.stringify(body));
  const paths = ["/userinfo", "/hello"];
  for (const path of paths) {
    const answer = await call(server, path, path, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(answer.res.status, 200, answer.text);
    const id = answer.res.headers.get("x-request-id");
    const line = server.logs.find((entry) => entry.msg === "request" && entry.request_id === id);
    assert.equal(line?.user, "alice", path);
    assert.equal(line?.client, "app", path);
  }
});
