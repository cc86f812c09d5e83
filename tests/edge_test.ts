/**
 * @module
 * The common edge every request passes (`createEdge`): security headers and JSON defaults, thrown
 * errors turned into answers in each route's dialect (JSON, OAuth, page) with Bearer challenges and
 * Retry-After, 500s without stacks, and one access-log line per request with its id, user and
 * client address, never an Authorization value.
 */
import assert from "node:assert/strict";
import type { Handler } from "../src/http/context.ts";
import { createClientAddressResolver, DEFAULT_CLIENT_ADDRESS } from "../src/http/client_address.ts";
import { createEdge, createServeErrorHandler } from "../src/http/edge.ts";
import { AuthFailure } from "../src/auth/errors.ts";
import { createErrorAnswers } from "../src/error_answers.ts";
import { HttpError } from "../src/http/errors.ts";
import { json } from "../src/http/json.ts";
import { createLogger } from "../src/log.ts";
import { parseIpRange } from "../src/net/ip.ts";
import { StoreFailure } from "../src/store/errors.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
} as Deno.ServeHandlerInfo;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECRET_TOKEN = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2VjcmV0LXNpZw";

/** An edge around `dispatch` whose log lines are collected in `lines`. */
function setup(dispatch: Handler) {
  const lines: string[] = [];
  const edge = createEdge(dispatch, {
    logger: createLogger("debug", (line) => lines.push(line)),
    respond: createErrorAnswers("r").respond,
  });
  const call = (path = "/hello", init: RequestInit = {}) =>
    edge(new Request(`https://api.test${path}`, init), INFO);
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { call, lines, logs };
}

function assertSecurityHeaders(res: Response): void {
  assert.equal(res.headers.get("strict-transport-security"), "max-age=63072000");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.match(res.headers.get("x-request-id") ?? "", UUID);
  assert.equal(res.headers.get("server"), null);
}

Deno.test("createEdge passes a handler's response through with security headers", async () => {
  const { call } = setup(() => json({ message: "hi" }));
  const res = await call();
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { message: "hi" });
  assertSecurityHeaders(res);
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
});

Deno.test("createEdge adds JSON content-type and no-store when a handler sets neither", async () => {
  const { call } = setup(() => new Response(null, { status: 204 }));
  const res = await call();
  assert.equal(res.status, 204);
  assertSecurityHeaders(res);
});

Deno.test("createEdge keeps a cache-control the handler chose", async () => {
  const { call } = setup(() => json({}, { headers: { "cache-control": "public, max-age=300" } }));
  const res = await call();
  assert.equal(res.headers.get("cache-control"), "public, max-age=300");
  await res.body?.cancel();
});

Deno.test("createEdge turns a thrown HttpError into its status, JSON msg and headers", async () => {
  const { call } = setup(() => {
    throw new HttpError(429, "Too many failed logins", { headers: { "retry-after": "8" } });
  });
  const res = await call("/login", { method: "POST" });
  assert.equal(res.status, 429);
  assert.deepEqual(await res.json(), { msg: "Too many failed logins" });
  assert.equal(res.headers.get("retry-after"), "8");
  assertSecurityHeaders(res);
});

Deno.test("createEdge words one domain error in each route's dialect", async () => {
  const failure = () => new AuthFailure("invalid_grant", "Refresh token has expired");
  const expected = {
    flask: { msg: "Refresh token has expired" },
    flask_with_code: { msg: "Refresh token has expired", error: "invalid_grant" },
    oauth: { error: "invalid_grant", error_description: "Refresh token has expired" },
  };
  for (const [dialect, body] of Object.entries(expected)) {
    const { call } = setup((_req, ctx) => {
      ctx.errorDialect = dialect as keyof typeof expected;
      throw failure();
    });
    const res = await call();
    assert.equal(res.status, 400, dialect);
    assert.deepEqual(await res.json(), body, dialect);
    if (dialect === "oauth") assert.equal(res.headers.get("pragma"), "no-cache");
  }
});

Deno.test("createEdge words a refused request body as invalid_request in the OAuth dialect only", async () => {
  const expected = {
    flask: { msg: "Request body is larger than 16384 bytes" },
    flask_with_code: { msg: "Request body is larger than 16384 bytes" },
    oauth: {
      error: "invalid_request",
      error_description: "Request body is larger than 16384 bytes",
    },
  };
  for (const [dialect, body] of Object.entries(expected)) {
    const { call } = setup((_req, ctx) => {
      ctx.errorDialect = dialect as keyof typeof expected;
      throw new HttpError(413, "Request body is larger than 16384 bytes");
    });
    const res = await call();
    assert.equal(res.status, 413, dialect);
    assert.deepEqual(await res.json(), body, dialect);
  }
  const { call } = setup((_req, ctx) => {
    ctx.errorDialect = "oauth";
    throw new HttpError(405, "Method not allowed", { headers: { allow: "POST, OPTIONS" } });
  });
  const res = await call();
  assert.equal(res.headers.get("allow"), "POST, OPTIONS");
  assert.equal((await res.json()).error, "invalid_request");
});

Deno.test("createEdge words errors on a page route as a page, and a store outage still as JSON", async () => {
  const cases: [string, () => Error, number, RegExp][] = [
    [
      "a domain error",
      () => new AuthFailure("csrf_mismatch", "The form has no valid CSRF token"),
      403,
      /<h1>Request refused<\/h1>[\s\S]*The form has no valid CSRF token/,
    ],
    [
      "an HTTP error",
      () => new HttpError(413, "Request body is too large"),
      413,
      /<h1>This request cannot be completed<\/h1>[\s\S]*Request body is too large/,
    ],
    [
      "throttling, worded for people",
      () => new AuthFailure("throttled", "Too many", { retryAfterSeconds: 7 }),
      429,
      /<h1>Too many attempts<\/h1>[\s\S]*try again in 7 seconds/,
    ],
  ];
  for (const [what, error, status, page] of cases) {
    const { call } = setup((_req, ctx) => {
      ctx.errorDialect = "page";
      throw error();
    });
    const res = await call();
    assert.equal(res.status, status, what);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8", what);
    assert.match(res.headers.get("content-security-policy")!, /frame-ancestors 'none'/, what);
    assert.match(await res.text(), page, what);
  }
  const { call } = setup((_req, ctx) => {
    ctx.errorDialect = "page";
    throw new StoreFailure("unavailable", "connection refused");
  });
  const outage = await call();
  assert.equal(outage.status, 503);
  assert.equal(outage.headers.get("retry-after"), "5");
  assert.deepEqual(await outage.json(), {
    msg: "Service temporarily unavailable; try again shortly",
  });
});

Deno.test("createEdge answers a throttled login with 429 and Retry-After in every dialect", async () => {
  for (const dialect of ["flask", "oauth"] as const) {
    const { call } = setup((_req, ctx) => {
      ctx.errorDialect = dialect;
      throw new AuthFailure("throttled", "Too many failed login attempts; try again later", {
        retryAfterSeconds: 8,
      });
    });
    const res = await call("/login", { method: "POST" });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "8");
    const body = await res.json();
    if (dialect === "oauth") assert.equal(body.error, "temporarily_unavailable");
    else assert.deepEqual(body, { msg: "Too many failed login attempts; try again later" });
  }
});

Deno.test("createEdge keeps the cause of a wrapped error out of the answer", async () => {
  const cause = new Error("database password is hunter2");
  const { call } = setup(() => {
    throw new AuthFailure("invalid_token", "Token has expired", { cause });
  });
  const res = await call();
  assert.equal(res.status, 401);
  const text = await res.text();
  assert.ok(!text.includes("hunter2"));
  assert.equal(new AuthFailure("invalid_token", "x", { cause }).cause, cause);
});

Deno.test("createEdge turns AuthFailure invalid_token into 401 with a Bearer challenge", async () => {
  const { call } = setup(() => {
    throw new AuthFailure("invalid_token", "Token has expired");
  });
  const res = await call();
  assert.equal(res.status, 401);
  assert.equal(
    res.headers.get("www-authenticate"),
    'Bearer realm="r", error="invalid_token", error_description="Token has expired"',
  );
  assert.deepEqual(await res.json(), { msg: "Token has expired" });
  assertSecurityHeaders(res);
});

Deno.test("createEdge answers a missing token (missing_token) with a bare challenge", async () => {
  const { call } = setup(() => {
    throw new AuthFailure("missing_token", "Missing Authorization Header");
  });
  const res = await call();
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="r"');
  assert.deepEqual(await res.json(), { msg: "Missing Authorization Header" });
});

Deno.test("createEdge turns AuthFailure insufficient_scope into 403 naming the scope", async () => {
  const { call } = setup(() => {
    throw new AuthFailure("insufficient_scope", "Token lacks scope", { scope: "admin" });
  });
  const res = await call();
  assert.equal(res.status, 403);
  assert.equal(
    res.headers.get("www-authenticate"),
    'Bearer realm="r", error="insufficient_scope", error_description="Token lacks scope", scope="admin"',
  );
  assert.deepEqual(await res.json(), { msg: "Token lacks scope" });
});

Deno.test("createEdge keeps quotes out of the quoted challenge values", async () => {
  const { call } = setup(() => {
    throw new AuthFailure("invalid_token", 'Authorization header must be "Bearer <token>"');
  });
  const res = await call();
  const challenge = res.headers.get("www-authenticate")!;
  assert.equal(
    challenge,
    `Bearer realm="r", error="invalid_token", error_description="Authorization header must be 'Bearer <token>'"`,
  );
  await res.body?.cancel();
});

Deno.test("createEdge turns an unknown Error into a 500 without the stack, logged with it", async () => {
  function explode(): never {
    throw new Error("Database password is hunter2");
  }
  const { call, logs, lines } = setup(() => explode());
  const res = await call("/hello", { headers: { authorization: `Bearer ${SECRET_TOKEN}` } });
  assert.equal(res.status, 500);
  assertSecurityHeaders(res);
  const requestId = res.headers.get("x-request-id");
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), { msg: "Internal server error", request_id: requestId });
  assert.ok(!text.includes("hunter2") && !text.includes("explode") && !text.includes(" at "));

  const errors = logs().filter((line) => line.level === "error");
  assert.equal(errors.length, 1);
  assert.equal(errors[0].request_id, requestId);
  assert.match(String(errors[0].error), /Database password is hunter2/);
  assert.match(String(errors[0].error), /at explode/, "the stack is logged");
  assert.ok(lines.every((line) => !line.includes(SECRET_TOKEN)));
});

Deno.test("createEdge turns a thrown non-Error into a logged 500", async () => {
  const { call, logs } = setup(() => {
    throw "plain string";
  });
  const res = await call();
  assert.equal(res.status, 500);
  assert.equal((await res.json()).msg, "Internal server error");
  assert.equal(logs().find((line) => line.level === "error")?.error, "plain string");
});

Deno.test("createEdge writes one access-log line per request with the documented fields", async () => {
  const { call, logs } = setup(() => json({}, { status: 201 }));
  const res = await call("/users/alice?debug=1", { method: "PUT" });
  await res.body?.cancel();
  const entries = logs();
  assert.equal(entries.length, 1);
  const [entry] = entries;
  assert.equal(entry.level, "info");
  assert.equal(entry.msg, "request");
  assert.equal(entry.request_id, res.headers.get("x-request-id"));
  assert.equal(entry.method, "PUT");
  assert.equal(entry.path, "/users/alice");
  assert.equal(entry.status, 201);
  assert.equal(typeof entry.duration_ms, "number");
  assert.ok((entry.duration_ms as number) >= 0);
  assert.equal(entry.remote_address, "127.0.0.1");
  assert.equal("user" in entry, false, "no user when nobody authenticated");
  assert.equal(typeof entry.time, "string");
});

Deno.test("createEdge logs the user a handler set on the context", async () => {
  const { call, logs } = setup((_req, ctx) => {
    ctx.user = "alice";
    return json({ message: "Hello, alice! You're authenticated." });
  });
  await (await call()).body?.cancel();
  assert.equal(logs()[0].user, "alice");
});

Deno.test("createEdge logs the user even when the handler then fails", async () => {
  const { call, logs } = setup((_req, ctx) => {
    ctx.user = "alice";
    throw new HttpError(409, "Conflict");
  });
  await (await call()).body?.cancel();
  const entry = logs().find((line) => line.msg === "request");
  assert.equal(entry?.user, "alice");
  assert.equal(entry?.status, 409);
});

Deno.test("createEdge gives every request its own id, also in the handler's context", async () => {
  const seen: string[] = [];
  const { call } = setup((_req, ctx) => {
    seen.push(ctx.requestId);
    assert.equal(ctx.remoteAddress, "127.0.0.1");
    return json({});
  });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const res = await call();
    await res.body?.cancel();
    ids.push(res.headers.get("x-request-id"));
  }
  assert.deepEqual(ids, seen);
  assert.equal(new Set(ids).size, 3);
});

Deno.test("createEdge never writes an Authorization value to the log", async () => {
  const outcomes: Handler[] = [
    () => json({ ok: true }),
    () => {
      throw new AuthFailure("invalid_token", "Signature verification failed");
    },
    () => {
      throw new HttpError(400, "Invalid credentials");
    },
    () => {
      throw new Error("Unexpected");
    },
  ];
  for (const dispatch of outcomes) {
    const { call, lines } = setup(dispatch);
    for (const authorization of [`Bearer ${SECRET_TOKEN}`, `Basic ${btoa("alice:hunter2")}`]) {
      const res = await call("/hello", { headers: { authorization } });
      await res.body?.cancel();
    }
    assert.ok(lines.length >= 2);
    for (const line of lines) {
      assert.ok(!line.includes(SECRET_TOKEN), line);
      assert.ok(!line.includes(btoa("alice:hunter2")), line);
      assert.ok(!line.toLowerCase().includes("authorization"), line);
    }
  }
});

Deno.test("createEdge writes no access log line when the level is above info", async () => {
  const lines: string[] = [];
  const edge = createEdge(() => json({}), {
    logger: createLogger("warn", (line) => lines.push(line)),
    respond: createErrorAnswers("r").respond,
  });
  const res = await edge(new Request("https://api.test/hello"), INFO);
  await res.body?.cancel();
  assert.deepEqual(lines, []);
});

Deno.test("createServeErrorHandler answers 500 JSON without the stack and logs the error", async () => {
  const lines: string[] = [];
  const onError = createServeErrorHandler(createLogger("info", (line) => lines.push(line)));
  const res = onError(new Error("edge broke"));
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.deepEqual(await res.json(), { msg: "Internal server error" });
  assert.equal(lines.length, 1);
  const logged = JSON.parse(lines[0]);
  assert.equal(logged.level, "error");
  assert.match(logged.error, /edge broke/);
});

Deno.test("createEdge puts the address its resolver finds in the context and the access log", async () => {
  const lines: string[] = [];
  const seen: string[][] = [];
  const edge = createEdge((_req, ctx) => {
    seen.push([ctx.remoteAddress, ctx.addressGroup]);
    return json({});
  }, {
    logger: createLogger("info", (line) => lines.push(line)),
    respond: createErrorAnswers("r").respond,
    clientAddress: createClientAddressResolver({
      ...DEFAULT_CLIENT_ADDRESS,
      trustedProxies: [parseIpRange("127.0.0.1")!],
    }),
  });
  const req = new Request("https://api.test/hello", {
    headers: { "x-forwarded-for": "2001:db8:1:2::7" },
  });
  await (await edge(req, INFO)).body?.cancel();
  assert.deepEqual(seen, [["2001:db8:1:2::7", "2001:db8:1:2::/64"]]);
  assert.equal(JSON.parse(lines[0]).remote_address, "2001:db8:1:2::7");
});

Deno.test("createEdge finishes an answer given at once in the same turn, as it finishes one waited for", async () => {
  const { call, logs } = setup(() => json({ message: "hi" }));
  const waited = setup(() => Promise.resolve(json({ message: "hi" })));
  const now = call();
  assert.ok(now instanceof Response, "a Response, not a promise: no turn of the event loop");
  const later = waited.call();
  assert.ok(later instanceof Promise);
  for (const res of [now, await later]) {
    assertSecurityHeaders(res);
    assert.deepEqual(await res.json(), { message: "hi" });
  }
  const strip = (
    { request_id: _id, time: _time, duration_ms: _ms, ...rest }: Record<string, unknown>,
  ) => rest;
  assert.deepEqual(logs().map(strip), waited.logs().map(strip));
  assert.equal(logs().length, 1);
});

Deno.test("createEdge still waits when the request has a body to read or is HEAD with a body to drop", async () => {
  const { call } = setup(() => json({ message: "hi" }));
  const posted = call("/hello", { method: "POST", body: "{}" });
  assert.ok(posted instanceof Promise, "the body is read before answering");
  assert.equal((await posted).status, 200);
  const head = call("/hello", { method: "HEAD" });
  assert.ok(head instanceof Promise);
  const res = await head;
  assert.equal(res.body, null);
  assertSecurityHeaders(res);
});

Deno.test("createEdge answers a handler's synchronous throw as it answers a rejection", async () => {
  const thrown = setup(() => {
    throw new HttpError(404, "Not found");
  });
  const rejected = setup(() => Promise.reject(new HttpError(404, "Not found")));
  for (const res of [await thrown.call(), await rejected.call()]) {
    assert.equal(res.status, 404);
    assertSecurityHeaders(res);
    assert.deepEqual(await res.json(), { msg: "Not found" });
  }
});
