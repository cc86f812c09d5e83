/**
 * @module
 * The plain-HTTP listener (HTTP_PORT) over real connections: absent unless configured, it answers
 * 308 to the same path and query on the HTTPS port, or to PUBLIC_URL whatever Host was sent, never
 * to another host, without reading a login body or logging anyone in, and a Host that is no host
 * gets a clean 400 JSON answer.
 */
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

/**
 * Sends one hand-written HTTP/1.1 request over a raw TCP connection (fetch would normalise the
 * path) and returns the status, Location and body of the answer.
 */
async function rawRequest(
  httpUrl: string,
  requestLine: string,
  headers: string[],
): Promise<{ status: number; location: string | undefined; body: string }> {
  const { hostname, port } = new URL(httpUrl);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const request = [requestLine, ...headers, "Connection: close", "", ""].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const response = await new Response(conn.readable).text();
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
    const location = /^location: (.*)$/im.exec(response)?.[1].trim();
    return { status, location, body: response.slice(response.indexOf("\r\n\r\n") + 4) };
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed by the response stream.
    }
  }
}

const HOSTILE_REQUESTS: { name: string; line: string; headers?: string[]; path: string }[] = [
  { name: "a path starting with //", line: "GET //evil.example/phish HTTP/1.1", path: "/phish" },
  { name: "a path starting with /\\", line: "GET /\\evil.example HTTP/1.1", path: "" },
  { name: "an absolute-form target", line: "GET http://evil.example/ HTTP/1.1", path: "/" },
  {
    name: "an absolute-form target with a path",
    line: "GET http://evil.example//other.example/x?y=1 HTTP/1.1",
    path: "/x?y=1",
  },
  {
    name: "a forged Host header",
    line: "GET /login?next=1 HTTP/1.1",
    headers: ["Host: evil.example"],
    path: "/login?next=1",
  },
  {
    name: "a forged Host header with a port and userinfo",
    line: "GET /@evil.example HTTP/1.1",
    headers: ["Host: user@evil.example:443"],
    path: "/@evil.example",
  },
];

for (const publicUrl of [undefined, "https://auth.example.com"]) {
  Deno.test(
    `the plain-HTTP listener never redirects to another host (${
      publicUrl ? "PUBLIC_URL set" : "no PUBLIC_URL"
    }), whatever the request target or Host says`,
    async () => {
      await using server = await startTestServer({
        env: { HTTP_PORT: "0", ...(publicUrl && { PUBLIC_URL: publicUrl }) },
      });
      const origin = publicUrl ?? `https://localhost:${new URL(server.url).port}`;
      for (const { name, line, headers, path } of HOSTILE_REQUESTS) {
        const { status, location } = await rawRequest(
          server.httpUrl!,
          line,
          headers ?? [`Host: ${new URL(server.httpUrl!).host}`],
        );
        assert.equal(status, 308, name);
        assert.ok(location, `${name}: a Location`);
        const target = new URL(location);
        assert.equal(target.origin, origin, `${name}: ${location}`);
        assert.ok(location.startsWith(`${origin}/`), `${name}: ${location}`);
        if (path) assert.ok(location.endsWith(path), `${name}: ${location} keeps ${path}`);
      }
    },
  );
}

Deno.test("a Host header that is no host gets a clean 400 JSON answer, and nothing is printed", async () => {
  await using server = await startTestServer({ env: { HTTP_PORT: "0" } });
  const printed: unknown[][] = [];
  const { error, log } = console;
  console.error = (...args: unknown[]) => printed.push(args);
  console.log = (...args: unknown[]) => printed.push(args);
  try {
    for (const host of ["a b", "[::1", "a%20b", "a<b>"]) {
      const answer = await rawRequest(server.httpUrl!, "GET /login HTTP/1.1", [`Host: ${host}`]);
      assert.equal(answer.status, 400, host);
      assert.equal(answer.location, undefined, host);
      assert.deepEqual(JSON.parse(answer.body), { msg: "Invalid Host header" }, host);
    }
    // The listener still redirects the next, well-formed request.
    const { status } = await rawRequest(server.httpUrl!, "GET /login HTTP/1.1", [
      `Host: ${new URL(server.httpUrl!).host}`,
    ]);
    assert.equal(status, 308);
  } finally {
    console.error = error;
    console.log = log;
  }
  assert.deepEqual(printed, [], "no stack trace, nor anything else, on stdout or stderr");
});
