/**
 * @module
 * `GET /authorize` over HTTPS: what is shown as a page and never redirected (unknown clients,
 * unregistered or altered redirect URIs), what goes back to the client with `error`, `state`
 * and `iss`, PKCE S256 required, and the page's own hardening (CSP, framing, escaping).
 */
import assert from "node:assert/strict";
import * as oidc from "./helpers/oidc.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { alice: oidc.PASSWORD };

async function serverWithClient(): Promise<{ server: TestServer; app: oidc.TestClient }> {
  const server = await startTestServer({ users: USERS });
  const app = await oidc.registerClient(server, {
    clientId: "app",
    name: "Example <App>",
    redirectUris: [oidc.REDIRECT_URI, "https://app.example/other?tenant=1", "com.example.app:/cb"],
  });
  return { server, app };
}

async function open(server: TestServer, url: string): Promise<Response> {
  return await fetch(url, { client: server.client, redirect: "manual" });
}

/** Asserts an error page: HTML, the status, no redirect, the message shown. */
async function assertErrorPage(
  res: Response,
  status: number,
  message: RegExp,
  what = "",
): Promise<void> {
  const html = await res.text();
  assert.equal(res.status, status, `${what}: ${html}`);
  assert.equal(res.headers.get("location"), null, `${what}: never redirected`);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8", what);
  assert.match(html, message, what);
}

Deno.test("GET /authorize shows an error page, never a redirect, for an unknown, missing or repeated client_id", async () => {
  const { server, app } = await serverWithClient();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    ["unknown", { client_id: "nobody" }, /Unknown client &quot;nobody&quot;/],
    ["missing", { client_id: undefined }, /names no client/],
    ["malformed", { client_id: "has space" }, /Unknown client/],
  ];
  for (const [what, params, message] of cases) {
    const res = await open(
      server,
      oidc.authorizeUrl(server, app, { code_challenge: challenge, ...params }),
    );
    await assertErrorPage(res, 400, message, what);
  }
  const repeated = new URL(oidc.authorizeUrl(server, app, { code_challenge: challenge }));
  repeated.searchParams.append("client_id", "app");
  await assertErrorPage(await open(server, repeated.href), 400, /repeated/);
});

Deno.test("GET /authorize never redirects to a redirect_uri that is not registered exactly, however it is altered", async () => {
  const { server, app } = await serverWithClient();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const altered = [
    "https://evil.example/callback",
    "https://app.example/callback/",
    "https://app.example/callback?x=1",
    "https://app.example/callback#fragment",
    "https://app.example/callbackx",
    "https://app.example/CALLBACK",
    "https://APP.example/callback",
    "https://app.example:443/callback",
    "http://app.example/callback",
    "https://app.example.evil.example/callback",
    "https://app.example@evil.example/callback",
    "https://evil.example/?https://app.example/callback",
    "https://app.example/callback/../evil",
    "https://app.example/%63allback",
    "https://app.example/other",
    "https://app.example/other?tenant=2",
    "com.example.app:/cb/../x",
    "javascript:alert(1)//https://app.example/callback",
    "",
  ];
  for (const redirectUri of altered) {
    const res = await open(
      server,
      oidc.authorizeUrl(server, app, { code_challenge: challenge, redirect_uri: redirectUri }),
    );
    await assertErrorPage(res, 400, /redirect_uri/, redirectUri);
  }
  // Without a redirect_uri, and with two, there is nothing safe to redirect to either.
  await assertErrorPage(
    await open(
      server,
      oidc.authorizeUrl(server, app, { code_challenge: challenge, redirect_uri: undefined }),
    ),
    400,
    /names no redirect_uri/,
  );
  const twice = new URL(oidc.authorizeUrl(server, app, { code_challenge: challenge }));
  twice.searchParams.append("redirect_uri", "https://evil.example/callback");
  await assertErrorPage(await open(server, twice.href), 400, /repeated/);
});

Deno.test("GET /authorize redirects errors after the client is known, with error, state and iss", async () => {
  const { server, app } = await serverWithClient();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const cases: [string, Record<string, string | undefined>, string][] = [
    ["no PKCE", { code_challenge: undefined, code_challenge_method: undefined }, "invalid_request"],
    ["PKCE without method (plain)", { code_challenge_method: undefined }, "invalid_request"],
    ["PKCE plain", { code_challenge_method: "plain" }, "invalid_request"],
    ["PKCE unknown method", { code_challenge_method: "S512" }, "invalid_request"],
    ["malformed challenge", { code_challenge: "short" }, "invalid_request"],
    ["implicit flow", { response_type: "token" }, "unsupported_response_type"],
    ["hybrid flow", { response_type: "code id_token" }, "unsupported_response_type"],
    ["no response_type", { response_type: undefined }, "invalid_request"],
    ["unknown scope", { scope: "openid admin" }, "invalid_scope"],
    ["request object", { request: "eyJhbGciOiJub25lIn0.e30." }, "request_not_supported"],
    ["request_uri", { request_uri: "https://evil.example/r" }, "request_uri_not_supported"],
    ["form_post response mode", { response_mode: "form_post" }, "invalid_request"],
    ["unknown prompt", { prompt: "select_account" }, "invalid_request"],
    ["prompt none with login", { prompt: "none login" }, "invalid_request"],
    ["bad max_age", { max_age: "-1" }, "invalid_request"],
    ["prompt none without a session", { prompt: "none" }, "login_required"],
  ];
  for (const [what, params, error] of cases) {
    const res = await open(
      server,
      oidc.authorizeUrl(server, app, { code_challenge: challenge, state: `s ${what}`, ...params }),
    );
    const query = oidc.redirectedTo(res, oidc.REDIRECT_URI);
    assert.equal(query.get("error"), error, what);
    assert.ok(query.get("error_description"), what);
    assert.equal(query.get("state"), `s ${what}`, what);
    assert.equal(query.get("iss"), server.url, `${what}: iss names us (RFC 9207)`);
    assert.equal(query.get("code"), null);
  }
});

Deno.test("GET /authorize keeps the registered redirect URI's own query and supports private-use schemes", async () => {
  const { server, app } = await serverWithClient();
  await using _ = server;
  const withQuery = await open(
    server,
    oidc.authorizeUrl(server, app, {
      redirect_uri: "https://app.example/other?tenant=1",
      response_type: "token",
    }),
  );
  const location = new URL(withQuery.headers.get("location")!);
  assert.equal(location.searchParams.get("tenant"), "1");
  assert.equal(location.searchParams.get("error"), "unsupported_response_type");

  const native = await open(
    server,
    oidc.authorizeUrl(server, app, {
      redirect_uri: "com.example.app:/cb",
      prompt: "none",
      code_challenge: (await oidc.pkce()).challenge,
    }),
  );
  assert.equal(native.status, 303);
  assert.match(native.headers.get("location")!, /^com\.example\.app:\/cb\?error=login_required&/);
});

Deno.test("GET /authorize refuses a client not registered for the code flow with unauthorized_client", async () => {
  const server = await startTestServer({ users: USERS });
  await using _ = server;
  const machine = await oidc.registerClient(server, {
    clientId: "machine",
    redirectUris: [oidc.REDIRECT_URI],
    public: false,
    grantTypes: ["client_credentials"],
  });
  const { challenge } = await oidc.pkce();
  const query = oidc.redirectedTo(
    await open(server, oidc.authorizeUrl(server, machine, { code_challenge: challenge })),
    oidc.REDIRECT_URI,
  );
  assert.equal(query.get("error"), "unauthorized_client");
});

Deno.test("the sign-in page refuses framing, allows only our stylesheet and script, escapes what it shows and prefills login_hint", async () => {
  const { server, app } = await serverWithClient();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const res = await open(
    server,
    oidc.authorizeUrl(server, app, { code_challenge: challenge, login_hint: 'al"ice<script>' }),
  );
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.equal(res.headers.get("cache-control"), "no-store");
  const csp = res.headers.get("content-security-policy")!;
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /style-src 'self'/);
  assert.match(csp, /form-action 'self' https:\/\/app\.example(;|$)/);
  assert.match(csp, /script-src 'self';/, "the passkey script, from this origin only");
  assert.doesNotMatch(csp, /unsafe/);
  assert.deepEqual(
    [...html.matchAll(/<script[^>]*>([^<]*)<\/script>/gi)].map((match) => match[0]),
    ['<script src="/assets/passkeys.js" defer></script>'],
    "no inline script",
  );
  assert.doesNotMatch(html, /style=/i, "no inline styles");
  assert.match(html, /Example &lt;App&gt;/);
  assert.match(html, /value="al&quot;ice&lt;script&gt;"/);
  assert.match(html, /<link rel="stylesheet" href="\/assets\/pages.css">/);

  const css = await fetch(`${server.url}/assets/pages.css`, { client: server.client });
  assert.equal(css.status, 200);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  assert.match(await css.text(), /prefers-color-scheme: dark/);
});

Deno.test("POST /authorize works like GET; OPTIONS names the methods", async () => {
  const { server, app } = await serverWithClient();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const params =
    new URL(oidc.authorizeUrl(server, app, { code_challenge: challenge })).searchParams;
  const posted = await fetch(`${server.url}/authorize`, {
    client: server.client,
    method: "POST",
    redirect: "manual",
    body: params,
  });
  assert.equal(posted.status, 200);
  assert.ok(oidc.formFields(await posted.text()).csrf_token);
  const options = await fetch(`${server.url}/authorize`, {
    client: server.client,
    method: "OPTIONS",
  });
  assert.equal(options.status, 204);
  assert.equal(options.headers.get("allow"), "GET, POST, HEAD, OPTIONS");
  await options.body?.cancel();
});

Deno.test("GET /authorize with a session: prompt=login asks again, max_age=0 asks again, prompt=none answers at once", async () => {
  const { server, app } = await serverWithClient();
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const { challenge } = await oidc.pkce();
  const fields = await browser.signInPage(
    oidc.authorizeUrl(server, app, { code_challenge: challenge }),
  );
  oidc.redirectedTo(await browser.signIn(fields, "alice", oidc.PASSWORD), oidc.REDIRECT_URI);

  const silent = oidc.redirectedTo(
    await browser.get(
      oidc.authorizeUrl(server, app, { code_challenge: challenge, prompt: "none" }),
    ),
    oidc.REDIRECT_URI,
  );
  assert.ok(silent.get("code"), "signed in: prompt=none gets a code");
  for (const params of [{ prompt: "login" }, { max_age: "0" }]) {
    const res = await browser.get(
      oidc.authorizeUrl(server, app, { code_challenge: challenge, ...params }),
    );
    assert.equal(res.status, 200, JSON.stringify(params));
    assert.match(await res.text(), /<h1>Sign in<\/h1>/);
  }
  const fresh = oidc.redirectedTo(
    await browser.get(
      oidc.authorizeUrl(server, app, { code_challenge: challenge, max_age: "3600" }),
    ),
    oidc.REDIRECT_URI,
  );
  assert.ok(fresh.get("code"));
});
