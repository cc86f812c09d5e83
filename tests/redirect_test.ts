import assert from "node:assert/strict";
import { startTestServer } from "./helpers/server.ts";

const USERS = { user1: "password1" };

Deno.test("GET over plain HTTP answers 308 to the same path and query on the HTTPS port", async () => {
  await using server = await startTestServer({ users: USERS, env: { HTTP_PORT: "0" } });
  assert.ok(server.httpUrl);
  assert.match(server.httpUrl, /^http:\/\/localhost:\d+$/);
  const httpsPort = new URL(server.url).port;
  assert.notEqual(new URL(server.httpUrl).port, httpsPort);

  const res = await fetch(`${server.httpUrl}/hello?x=1`, { redirect: "manual" });
  assert.equal(res.status, 308);
  const location = `https://localhost:${httpsPort}/hello?x=1`;
  assert.equal(res.headers.get("location"), location);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.deepEqual(await res.json(), { msg: "Use HTTPS", location });

  // The target is the real HTTPS service.
  const followed = await fetch(location, { client: server.client });
  assert.equal(followed.status, 401);
  await followed.body?.cancel();
});

Deno.test("POST /login over plain HTTP answers 308 without reading the body or logging anyone in", async () => {
  await using server = await startTestServer({ users: USERS, env: { HTTP_PORT: "0" } });
  const httpsPort = new URL(server.url).port;

  // A complete body with valid credentials: redirected, never processed.
  const res = await fetch(`${server.httpUrl}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "user1", password: "password1" }),
  });
  assert.equal(res.status, 308);
  assert.equal(res.headers.get("location"), `https://localhost:${httpsPort}/login`);
  const body = await res.json();
  assert.equal(body.access_token, undefined);

  // A body that never finishes: the 308 still arrives, so the redirect does not wait for it.
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stalled = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(new TextEncoder().encode('{"username":"user1",'));
    },
  });
  try {
    const started = performance.now();
    const early = await fetch(`${server.httpUrl}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/json" },
      body: stalled,
    });
    assert.equal(early.status, 308);
    assert.ok(performance.now() - started < 2000);
    await early.body?.cancel();
  } finally {
    try {
      controller.close();
    } catch {
      // Already cancelled by the client.
    }
  }

  const logins = server.logs.filter((line) => line.msg === "request" && line.path === "/login");
  assert.deepEqual(logins, []);
});

Deno.test("without HTTP_PORT the server has no plain-HTTP listener", async () => {
  await using server = await startTestServer({ users: USERS });
  assert.equal(server.httpUrl, undefined);
  assert.equal(server.running.httpUrl, undefined);
  const listening = server.logs.find((line) => line.msg === "Listening");
  assert.ok(listening);
  assert.equal(listening.http_url, undefined);
});

Deno.test("the redirect goes to PUBLIC_URL when set, whatever Host the client sent", async () => {
  await using server = await startTestServer({
    env: { HTTP_PORT: "0", PUBLIC_URL: "https://auth.example.com" },
  });
  const res = await fetch(`${server.httpUrl}/hello?x=1`, {
    redirect: "manual",
    headers: { host: "evil.example" },
  });
  assert.equal(res.status, 308);
  assert.equal(res.headers.get("location"), "https://auth.example.com/hello?x=1");
  await res.body?.cancel();
});
