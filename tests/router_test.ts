/**
 * @module
 * The URLPattern router (`createRouter`): each path and method to its handler with the pattern's
 * groups, 404 and 405 with Allow as HttpErrors, HEAD answered by the GET handler and OPTIONS with
 * 204; then the same over real HTTPS, where every answer is JSON and HEAD has no body.
 */
import assert from "node:assert/strict";
import type { Handler, RequestContext } from "../src/http/context.ts";
import { json } from "../src/http/json.ts";
import { createRouter, route } from "../src/router.ts";
import { assertHttpError } from "./helpers/errors.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";
import { requestContext } from "./helpers/request_context.ts";

const BASE = "https://api.test";
const JSON_TYPE = "application/json; charset=utf-8";

function answer(name: string): Handler {
  return () => json({ handler: name }, { headers: { "x-handler": name } });
}

function allowSet(allow: string | null | undefined): string[] {
  return (allow ?? "").split(",").map((method) => method.trim()).filter(Boolean).sort();
}

Deno.test("createRouter dispatches each path and method to its own handler", async () => {
  const dispatch = createRouter([
    route("/a", { GET: answer("a-get"), POST: answer("a-post") }),
    route("/b", { GET: answer("b-get") }),
  ]);
  for (
    const [method, path, expected] of [
      ["GET", "/a", "a-get"],
      ["POST", "/a", "a-post"],
      ["GET", "/b", "b-get"],
      ["GET", "/b?x=1#frag", "b-get"],
    ]
  ) {
    const res = await dispatch(
      new Request(`${BASE}${path}`, { method }),
      requestContext("test-request"),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { handler: expected }, `${method} ${path}`);
  }
});

Deno.test("createRouter passes the request and the named groups of the pattern to the handler", async () => {
  let seen: { req?: Request; ctx?: RequestContext } = {};
  const dispatch = createRouter([
    route("/users/:name", {
      GET: (req, ctx) => {
        seen = { req, ctx };
        return json({ name: ctx.params.name });
      },
    }),
  ]);
  const req = new Request(`${BASE}/users/alice`);
  const ctx = requestContext("test-request");
  const res = await dispatch(req, ctx);
  assert.deepEqual(await res.json(), { name: "alice" });
  assert.equal(seen.req, req);
  assert.equal(seen.ctx, ctx);
  assert.equal(ctx.params.name, "alice");
  await assertHttpError(
    Promise.resolve(dispatch(new Request(`${BASE}/users`), requestContext("test-request"))),
    404,
  );
  await assertHttpError(
    Promise.resolve(
      dispatch(new Request(`${BASE}/users/alice/extra`), requestContext("test-request")),
    ),
    404,
  );
});

Deno.test("createRouter throws a 404 HttpError for an unknown path", async () => {
  const dispatch = createRouter([route("/hello", { GET: answer("hello") })]);
  for (const path of ["/", "/nope", "/hello/", "/HELLO", "/hello/x"]) {
    const error = await assertHttpError(
      Promise.resolve(dispatch(new Request(`${BASE}${path}`), requestContext("test-request"))),
      404,
    );
    assert.equal(error.message, "Not found");
  }
});

Deno.test("createRouter throws a 405 HttpError with Allow listing the methods, HEAD and OPTIONS", async () => {
  const dispatch = createRouter([
    route("/both", { GET: answer("get"), POST: answer("post") }),
    route("/post", { POST: answer("post") }),
  ]);
  const both = await assertHttpError(
    Promise.resolve(
      dispatch(new Request(`${BASE}/both`, { method: "DELETE" }), requestContext("test-request")),
    ),
    405,
  );
  assert.deepEqual(allowSet(both.headers.allow), ["GET", "HEAD", "OPTIONS", "POST"]);

  const post = await assertHttpError(
    Promise.resolve(
      dispatch(new Request(`${BASE}/post`, { method: "GET" }), requestContext("test-request")),
    ),
    405,
  );
  assert.equal(post.headers.allow, "POST, OPTIONS");
  // HEAD is only offered where GET is.
  await assertHttpError(
    Promise.resolve(
      dispatch(new Request(`${BASE}/post`, { method: "HEAD" }), requestContext("test-request")),
    ),
    405,
  );
});

Deno.test("createRouter answers HEAD with the GET handler (the edge drops the body)", async () => {
  let calls = 0;
  const dispatch = createRouter([
    route("/hello", {
      GET: () => {
        calls++;
        return json({ message: "hi" }, { status: 203, headers: { "x-handler": "get" } });
      },
    }),
  ]);
  const res = await dispatch(
    new Request(`${BASE}/hello`, { method: "HEAD" }),
    requestContext("test-request"),
  );
  assert.equal(calls, 1);
  assert.equal(res.status, 203);
  assert.equal(res.headers.get("x-handler"), "get");
  assert.equal(res.headers.get("content-type"), JSON_TYPE);
  await res.body?.cancel();
});

Deno.test("createRouter answers OPTIONS with 204 and Allow", async () => {
  const dispatch = createRouter([
    route("/hello", { GET: answer("get") }),
    route("/login", { POST: answer("post") }),
  ]);
  const hello = await dispatch(
    new Request(`${BASE}/hello`, { method: "OPTIONS" }),
    requestContext("test-request"),
  );
  assert.equal(hello.status, 204);
  assert.equal(hello.body, null);
  assert.deepEqual(allowSet(hello.headers.get("allow")), ["GET", "HEAD", "OPTIONS"]);
  const login = await dispatch(
    new Request(`${BASE}/login`, { method: "OPTIONS" }),
    requestContext("test-request"),
  );
  assert.equal(login.status, 204);
  assert.equal(login.headers.get("allow"), "POST, OPTIONS");
});

async function send(server: TestServer, path: string, init: RequestInit = {}) {
  const res = await fetch(`${server.url}${path}`, { ...init, client: server.client });
  return { res, text: await res.text() };
}

Deno.test('GET on an unknown path answers 404 {"msg":"Not found"} over HTTPS', async () => {
  await using server = await startTestServer();
  for (const path of ["/", "/nope", "/login/extra", "/hello.json"]) {
    const { res, text } = await send(server, path);
    assert.equal(res.status, 404, path);
    assert.equal(text, '{"msg":"Not found"}');
    assert.equal(res.headers.get("content-type"), JSON_TYPE);
  }
});

Deno.test("DELETE /login answers 405 with Allow: POST, OPTIONS over HTTPS", async () => {
  await using server = await startTestServer();
  const { res, text } = await send(server, "/login", { method: "DELETE" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST, OPTIONS");
  assert.equal(typeof JSON.parse(text).msg, "string");
  const get = await send(server, "/login");
  assert.equal(get.res.status, 405);
  assert.equal(get.res.headers.get("allow"), "POST, OPTIONS");
  const put = await send(server, "/hello", { method: "PUT", body: "{}" });
  assert.equal(put.res.status, 405);
  assert.deepEqual(allowSet(put.res.headers.get("allow")), ["GET", "HEAD", "OPTIONS"]);
});

Deno.test("HEAD /hello without a token answers 401 with its headers and no body over HTTPS", async () => {
  await using server = await startTestServer();
  const res = await fetch(`${server.url}/hello`, { method: "HEAD", client: server.client });
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="/);
  assert.equal(res.headers.get("content-type"), JSON_TYPE);
  assert.equal(await res.text(), "");
});

Deno.test("HEAD on unknown paths and POST-only routes answers without a body over HTTPS", async () => {
  await using server = await startTestServer();
  const missing = await fetch(`${server.url}/nope`, { method: "HEAD", client: server.client });
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "");
  const login = await fetch(`${server.url}/login`, { method: "HEAD", client: server.client });
  assert.equal(login.status, 405);
  assert.equal(await login.text(), "");
});

Deno.test("OPTIONS /login answers 204 with Allow over HTTPS", async () => {
  await using server = await startTestServer();
  const { res, text } = await send(server, "/login", { method: "OPTIONS" });
  assert.equal(res.status, 204);
  assert.equal(text, "");
  assert.equal(res.headers.get("allow"), "POST, OPTIONS");
  const hello = await send(server, "/hello", { method: "OPTIONS" });
  assert.equal(hello.res.status, 204);
  assert.deepEqual(allowSet(hello.res.headers.get("allow")), ["GET", "HEAD", "OPTIONS"]);
});

Deno.test("every response over HTTPS has content-type application/json; charset=utf-8", async () => {
  await using server = await startTestServer({ users: { user1: "password1" } });
  const requests: [string, RequestInit][] = [
    ["/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"username":"user1","password":"password1"}',
    }],
    ["/login", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }],
    ["/login", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }],
    ["/login", { method: "OPTIONS" }],
    ["/login", { method: "DELETE" }],
    ["/login", { method: "HEAD" }],
    ["/hello", {}],
    ["/hello", { headers: { authorization: "Bearer x.y.z" } }],
    ["/hello", { method: "HEAD" }],
    ["/hello", { method: "OPTIONS" }],
    ["/missing", {}],
    ["/missing", { method: "POST" }],
  ];
  for (const [path, init] of requests) {
    const { res } = await send(server, path, init);
    assert.equal(
      res.headers.get("content-type"),
      JSON_TYPE,
      `${init.method ?? "GET"} ${path} (${res.status})`,
    );
  }
});
