/**
 * @module
 * `POST /oauth/par` over HTTPS (RFC 9126 §2): clients authenticate as at the token endpoint
 * (confidential ones with their secret by Basic or form, public ones by name), the request is
 * checked as `/authorize` checks one, and every refusal is a JSON OAuth error, never a redirect;
 * a pushed request then runs the whole code flow, whatever else the browser's URL says.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import {
  MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS,
  REQUEST_URI_PREFIX,
} from "../src/auth/sign_in/pushed_requests.ts";
import * as oidc from "./helpers/oidc.ts";
import { push, pushed, pushedAuthorizeUrl } from "./helpers/pushed_requests.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { alice: oidc.PASSWORD };

async function serverWithClients(): Promise<
  { server: TestServer; confidential: oidc.TestClient; spa: oidc.TestClient }
> {
  const server = await startTestServer({ users: USERS });
  const confidential = await oidc.registerClient(server, {
    clientId: "web",
    public: false,
    redirectUris: [oidc.REDIRECT_URI],
  });
  const spa = await oidc.registerClient(server, {
    clientId: "spa",
    redirectUris: ["https://spa.example/cb"],
  });
  return { server, confidential, spa };
}

/** Asserts a JSON OAuth error: the status, the code, no redirect, not cached. */
function assertOAuthError(
  answer: { res: Response; body: Record<string, unknown> },
  status: number,
  error: string,
  what = "",
): void {
  assert.equal(answer.res.status, status, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error, error, what);
  assert.equal(typeof answer.body.error_description, "string", what);
  assert.equal(answer.res.headers.get("location"), null, `${what}: never redirected`);
  assert.equal(answer.res.headers.get("cache-control"), "no-store", what);
}

function auditEvents(server: TestServer, event: string): Record<string, unknown>[] {
  return server.logs.filter((line) => line.msg === "audit" && line.event === event);
}

Deno.test("POST /oauth/par answers 201 with a single-use request_uri for a confidential client by Basic and by form", async () => {
  const { server, confidential } = await serverWithClients();
  await using _ = server;
  for (const auth of ["basic", "post"] as const) {
    const { challenge } = await oidc.pkce();
    const { res, body } = await push(server, confidential, { challenge, auth });
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.deepEqual(Object.keys(body).sort(), ["expires_in", "request_uri"]);
    assert.equal(body.expires_in, 60);
    const uri = body.request_uri as string;
    assert.ok(uri.startsWith(REQUEST_URI_PREFIX), uri);
    assert.match(uri.slice(REQUEST_URI_PREFIX.length), /^[A-Za-z0-9_-]{43}$/, auth);
  }
  const issued = auditEvents(server, "pushed_request_issued");
  assert.equal(issued.length, 2);
  assert.equal(issued[0].client, "web");
  assert.ok(!server.rawLogs.some((line) => line.includes(REQUEST_URI_PREFIX)), "never logged");
});

Deno.test("POST /oauth/par refuses wrong, missing and doubled client credentials with 401 invalid_client", async () => {
  const { server, confidential } = await serverWithClients();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const wrongBasic = await push(server, confidential, { challenge, secret: "wrong" });
  assertOAuthError(wrongBasic, 401, "invalid_client", "wrong Basic secret");
  assert.match(wrongBasic.res.headers.get("www-authenticate")!, /^Basic /);
  assertOAuthError(
    await push(server, confidential, { challenge, auth: "post", secret: "wrong" }),
    401,
    "invalid_client",
    "wrong form secret",
  );
  assertOAuthError(
    await push(server, confidential, { challenge, auth: "none" }),
    401,
    "invalid_client",
    "a confidential client without its secret",
  );
  assertOAuthError(
    await push(server, confidential, { challenge, params: { client_id: undefined }, auth: "none" }),
    401,
    "invalid_client",
    "no client at all",
  );
  assertOAuthError(
    await push(server, confidential, { challenge, params: { client_secret: confidential.secret } }),
    400,
    "invalid_request",
    "Basic and form secret together",
  );
  assertOAuthError(
    await push(server, confidential, { challenge, params: { client_id: "spa" } }),
    400,
    "invalid_request",
    "a client_id other than the authenticated one",
  );
  const refused = auditEvents(server, "pushed_request_refused");
  assert.equal(refused.length, 6);
  assert.equal(refused[0].reason, "invalid_client");
  assert.equal(auditEvents(server, "pushed_request_issued").length, 0);
});

Deno.test("POST /oauth/par checks the request as /authorize does, answering JSON errors instead of redirects", async () => {
  const { server, confidential, spa } = await serverWithClients();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const cases: [string, Record<string, string | undefined>, number, string][] = [
    [
      "an unregistered redirect_uri",
      { redirect_uri: "https://evil.example/cb" },
      400,
      "invalid_request",
    ],
    ["no redirect_uri", { redirect_uri: undefined }, 400, "invalid_request"],
    ["a request_uri inside", { request_uri: `${REQUEST_URI_PREFIX}x` }, 400, "invalid_request"],
    ["a request object", { request: "e30.e30." }, 400, "request_not_supported"],
    ["no response_type", { response_type: undefined }, 400, "invalid_request"],
    ["response_type token", { response_type: "token" }, 400, "unsupported_response_type"],
    ["no code_challenge", { code_challenge: undefined }, 400, "invalid_request"],
    ["PKCE plain", { code_challenge_method: "plain" }, 400, "invalid_request"],
    ["an unknown scope", { scope: "openid admin" }, 400, "invalid_scope"],
    ["a bad prompt", { prompt: "select_account" }, 400, "invalid_request"],
    ["prompt none with login", { prompt: "none login" }, 400, "invalid_request"],
    ["a bad max_age", { max_age: "-1" }, 400, "invalid_request"],
    ["a state with a newline", { state: "a\nb" }, 400, "invalid_request"],
    ["response_mode fragment", { response_mode: "fragment" }, 400, "invalid_request"],
  ];
  for (const [what, params, status, error] of cases) {
    assertOAuthError(await push(server, confidential, { challenge, params }), status, error, what);
  }
  const repeated = await fetch(`${server.url}/oauth/par`, {
    client: server.client,
    method: "POST",
    body: new URLSearchParams([
      ["client_id", spa.clientId],
      ["response_type", "code"],
      ["redirect_uri", spa.redirectUri],
      ["code_challenge", challenge],
      ["code_challenge_method", "S256"],
      ["state", "a"],
      ["state", "b"],
    ]),
  });
  assertOAuthError(
    { res: repeated, body: await repeated.json() },
    400,
    "invalid_request",
    "a repeated state",
  );
  const configured = await startTestServer({
    env: { OAUTH_CLIENTS: "service:service-secret-that-is-long-enough" },
  });
  await using __ = configured;
  const basic = { clientId: "service", secret: "service-secret-that-is-long-enough" };
  assertOAuthError(
    await push(configured, { ...basic, redirectUri: oidc.REDIRECT_URI }, { challenge }),
    400,
    "unauthorized_client",
    "a configured client without a registration",
  );
  const json = await fetch(`${server.url}/oauth/par`, {
    client: server.client,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_id: "spa" }),
  });
  assert.equal(json.status, 415);
  assert.equal((await json.json()).error, "invalid_request");
  const get = await fetch(`${server.url}/oauth/par`, { client: server.client });
  assert.equal(get.status, 405);
  await get.body?.cancel();
});

Deno.test("A request pushed by a confidential client runs the code flow; the browser's other parameters are ignored", async () => {
  const { server, confidential } = await serverWithClients();
  await using _ = server;
  const { verifier, challenge } = await oidc.pkce();
  const requestUri = await pushed(server, confidential, { challenge });
  const browser = new oidc.CookieBrowser(server);
  // RFC 9126 §4: only the pushed parameters count, not what travels in the address bar.
  const url = pushedAuthorizeUrl(server, "web", requestUri, {
    redirect_uri: "https://evil.example/cb",
    state: "forged-state",
    scope: "openid hello",
    code_challenge: "A".repeat(43),
    prompt: "none",
  });
  const page = await browser.get(url);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(html, /<h1>Sign in<\/h1>/);
  const signedIn = await browser.signIn(oidc.formFields(html), "alice", oidc.PASSWORD);
  const answer = oidc.redirectedTo(signedIn, oidc.REDIRECT_URI);
  assert.equal(answer.get("state"), "pushed-state");
  const code = answer.get("code")!;
  const { res, body } = await oidc.tokenRequest(server, {
    grant_type: "authorization_code",
    code,
    redirect_uri: oidc.REDIRECT_URI,
    code_verifier: verifier,
  }, { id: "web", secret: confidential.secret! });
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.scope, "openid profile");
  assert.equal(decodeJwt(body.id_token as string).nonce, "pushed-nonce");
  assert.equal(auditEvents(server, "pushed_request_used").length, 1);
});

Deno.test("A public client pushes by its client_id alone and its request runs the code flow", async () => {
  const { server, spa } = await serverWithClients();
  await using _ = server;
  const { verifier, challenge } = await oidc.pkce();
  const { res, body } = await push(server, spa, { challenge, params: { scope: "openid" } });
  assert.equal(res.status, 201, JSON.stringify(body));
  const browser = new oidc.CookieBrowser(server);
  const fields = await browser.signInPage(
    pushedAuthorizeUrl(server, "spa", body.request_uri as string),
  );
  const answer = oidc.redirectedTo(
    await browser.signIn(fields, "alice", oidc.PASSWORD),
    spa.redirectUri,
  );
  const redeemed = await oidc.redeem(server, spa, answer.get("code")!, verifier);
  assert.equal(redeemed.res.status, 200, JSON.stringify(redeemed.body));
  assert.equal(redeemed.body.scope, "openid");
});

Deno.test("Discovery names the pushed authorization request endpoint and does not require it globally", async () => {
  await using server = await startTestServer();
  for (
    const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
  ) {
    const res = await fetch(`${server.url}${path}`, { client: server.client });
    const body = await res.json();
    assert.equal(
      body.pushed_authorization_request_endpoint,
      `${server.url}/oauth/par`,
    );
    assert.equal(body.require_pushed_authorization_requests, false);
  }
});

Deno.test("POST /oauth/par keeps at most 50 unused public-client pushes per client address; a confidential client is not counted", async () => {
  const { server, confidential, spa } = await serverWithClients();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const answers = await Promise.all(
    Array.from(
      { length: MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS },
      () => push(server, spa, { challenge }),
    ),
  );
  assert.deepEqual(
    answers.map(({ res }) => res.status),
    Array(MAX_UNAUTHENTICATED_PUSHES_PER_ADDRESS).fill(201),
  );
  const refused = await push(server, spa, { challenge });
  assertOAuthError(refused, 429, "temporarily_unavailable", "one public push too many");
  assert.ok(Number(refused.res.headers.get("retry-after")) >= 1);
  assert.equal((await push(server, confidential, { challenge })).res.status, 201);
  const reasons = auditEvents(server, "pushed_request_refused").map((event) => event.reason);
  assert.deepEqual(reasons, ["too_many_sign_ins"]);
});
