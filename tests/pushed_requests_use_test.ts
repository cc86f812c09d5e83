/**
 * @module
 * Pushed requests used at `/authorize` over HTTPS (RFC 9126 §4): a `request_uri` is its
 * client's alone, used up when `/authorize` accepts it (so of parallel uses exactly one gets a
 * sign-in page or a code), refused once expired, and every refusal is an error page, as no
 * redirect URI can be trusted; a client registered with `--require-par` has plain requests
 * refused. Each outcome is an audit event and a metric.
 */
import assert from "node:assert/strict";
import { REQUEST_URI_PREFIX } from "../src/auth/sign_in/pushed_requests.ts";
import { newClientRecord } from "../src/auth/clients/registration.ts";
import { unixNow } from "../src/clock.ts";
import { addClient, cliOn } from "./helpers/clients_cli.ts";
import * as oidc from "./helpers/oidc.ts";
import { pushed, pushedAuthorizeUrl } from "./helpers/pushed_requests.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { alice: oidc.PASSWORD };

async function serverWithClients(
  env: Record<string, string> = {},
): Promise<{ server: TestServer; web: oidc.TestClient; spa: oidc.TestClient }> {
  const server = await startTestServer({ users: USERS, env });
  const web = await oidc.registerClient(server, {
    clientId: "web",
    public: false,
    redirectUris: [oidc.REDIRECT_URI],
  });
  const spa = await oidc.registerClient(server, {
    clientId: "spa",
    redirectUris: [oidc.REDIRECT_URI],
  });
  return { server, web, spa };
}

/** Asserts an error page: HTML, the status, no redirect, the message shown. */
async function assertErrorPage(res: Response, message: RegExp, what = ""): Promise<void> {
  const html = await res.text();
  assert.equal(res.status, 400, `${what}: ${html}`);
  assert.equal(res.headers.get("location"), null, `${what}: never redirected`);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8", what);
  assert.match(html, message, what);
}

function auditEvents(server: TestServer, event: string): Record<string, unknown>[] {
  return server.logs.filter((line) => line.msg === "audit" && line.event === event);
}

async function pushedCount(server: TestServer, outcome: string): Promise<number> {
  const text = await (await fetch(server.running.metricsUrl!)).text();
  const line = text.split("\n").find((line) =>
    line.startsWith("auth_pushed_requests_total{") && line.includes(`outcome="${outcome}"`)
  );
  assert.ok(line, `auth_pushed_requests_total{outcome="${outcome}"}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

const USED = /unknown or was already used/;

Deno.test("A request_uri is used once: the sign-in page it opened stays, a second /authorize with it is an error page", async () => {
  const { server, web } = await serverWithClients({ METRICS_PORT: "0" });
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const requestUri = await pushed(server, web, { challenge });
  const url = pushedAuthorizeUrl(server, "web", requestUri);
  const browser = new oidc.CookieBrowser(server);
  const fields = await browser.signInPage(url);
  await assertErrorPage(await browser.get(url), USED, "the same browser again");
  await assertErrorPage(await new oidc.CookieBrowser(server).get(url), USED, "another browser");
  // The page already shown finishes the sign-in: the request was accepted when first used.
  oidc.redirectedTo(await browser.signIn(fields, "alice", oidc.PASSWORD), oidc.REDIRECT_URI);
  assert.deepEqual(
    auditEvents(server, "pushed_request_refused").map((event) => event.reason),
    ["used", "used"],
  );
  assert.equal(await pushedCount(server, "issued"), 1);
  assert.equal(await pushedCount(server, "used"), 1);
  assert.equal(await pushedCount(server, "refused"), 2);
});

Deno.test("A request_uri past its 60 seconds is refused with an error page, as expired", async () => {
  const { server, spa } = await serverWithClients({ METRICS_PORT: "0" });
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const requestUri = await pushed(server, spa, { challenge });
  const realNow = Date.now;
  Date.now = () => realNow.call(Date) + 61_000;
  try {
    const res = await new oidc.CookieBrowser(server).get(
      pushedAuthorizeUrl(server, "spa", requestUri),
    );
    await assertErrorPage(res, /has expired/);
  } finally {
    Date.now = realNow;
  }
  assert.equal(auditEvents(server, "pushed_request_expired").length, 1);
  assert.equal(await pushedCount(server, "expired"), 1);
  // Expired and unused, it is gone at the next housekeeping.
  await server.store.pruneExpired(unixNow() + 61);
  const again = await new oidc.CookieBrowser(server).get(
    pushedAuthorizeUrl(server, "spa", requestUri),
  );
  await assertErrorPage(again, USED, "pruned");
});

Deno.test("A request_uri is refused for another client, without a client, repeated or made up; its own client still uses it", async () => {
  const { server, web } = await serverWithClients();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const requestUri = await pushed(server, web, { challenge });
  const browser = new oidc.CookieBrowser(server);
  await assertErrorPage(
    await browser.get(pushedAuthorizeUrl(server, "spa", requestUri)),
    USED,
    "another client",
  );
  const noClient = new URL(`${server.url}/authorize`);
  noClient.searchParams.set("request_uri", requestUri);
  await assertErrorPage(await browser.get(noClient.href), /names no client/, "no client_id");
  const repeated = new URL(pushedAuthorizeUrl(server, "web", requestUri));
  repeated.searchParams.append("request_uri", requestUri);
  await assertErrorPage(await browser.get(repeated.href), /repeated/, "repeated");
  for (const madeUp of [`${REQUEST_URI_PREFIX}${"A".repeat(43)}`, `${REQUEST_URI_PREFIX}x`]) {
    await assertErrorPage(
      await browser.get(pushedAuthorizeUrl(server, "web", madeUp)),
      USED,
      madeUp,
    );
  }
  await browser.signInPage(pushedAuthorizeUrl(server, "web", requestUri));
  assert.deepEqual(
    auditEvents(server, "pushed_request_refused").map((event) => event.reason),
    ["other_client", "unknown", "unknown"],
  );
});

Deno.test("A request pushed before its client was removed and registered again is refused", async () => {
  const { server, web } = await serverWithClients();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const requestUri = await pushed(server, web, { challenge });
  await server.store.removeClient("web", {
    now: unixNow(),
    tokensIssuedUntil: unixNow(),
    tokensAcceptedUntil: unixNow() + 60,
  });
  const { record } = await newClientRecord({
    clientId: "web",
    redirectUris: [oidc.REDIRECT_URI],
    postLogoutRedirectUris: [],
    public: true,
    firstParty: true,
  }, ["openid", "profile"]);
  await server.store.addClient({ ...record, createdAt: unixNow() + 1 });
  await assertErrorPage(
    await new oidc.CookieBrowser(server).get(pushedAuthorizeUrl(server, "web", requestUri)),
    USED,
  );
});

Deno.test("Ten browsers opening one request_uri at once: exactly one gets a sign-in page", async () => {
  const { server, spa } = await serverWithClients();
  await using _ = server;
  const { challenge } = await oidc.pkce();
  const url = pushedAuthorizeUrl(server, "spa", await pushed(server, spa, { challenge }));
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => new oidc.CookieBrowser(server).get(url)),
  );
  const statuses = answers.map((res) => res.status).sort();
  await Promise.all(answers.map((res) => res.body?.cancel()));
  assert.deepEqual(statuses, [200, ...Array(9).fill(400)]);
});

Deno.test("One signed-in browser opening one request_uri eight times at once gets exactly one code", async () => {
  const { server, spa } = await serverWithClients();
  await using _ = server;
  const browser = new oidc.CookieBrowser(server);
  const first = await oidc.pkce();
  const fields = await browser.signInPage(
    oidc.authorizeUrl(server, spa, { code_challenge: first.challenge }),
  );
  oidc.redirectedTo(await browser.signIn(fields, "alice", oidc.PASSWORD), oidc.REDIRECT_URI);
  const { verifier, challenge } = await oidc.pkce();
  const url = pushedAuthorizeUrl(server, "spa", await pushed(server, spa, { challenge }));
  const answers = await Promise.all(Array.from({ length: 8 }, () => browser.get(url)));
  const codes = answers.filter((res) => res.status === 303).map((res) =>
    oidc.redirectedTo(res, oidc.REDIRECT_URI).get("code")!
  );
  await Promise.all(answers.map((res) => res.body?.cancel()));
  assert.equal(codes.length, 1);
  assert.deepEqual(answers.map((res) => res.status).sort(), [303, ...Array(7).fill(400)]);
  const { res, body } = await oidc.redeem(server, spa, codes[0], verifier);
  assert.equal(res.status, 200, JSON.stringify(body));
});

Deno.test("A client added with --require-par has plain requests sent back as invalid_request, and its pushed ones run", async () => {
  await using server = await startTestServer({ users: USERS });
  await addClient(server, "strict", {
    redirectUris: [oidc.REDIRECT_URI],
    public: true,
    firstParty: true,
    requirePar: true,
  });
  const listed = await cliOn(server, ["clients", "list"]);
  assert.match(listed.stdout, /^strict .*require-par/m);
  const strict = { clientId: "strict", redirectUri: oidc.REDIRECT_URI };
  const { challenge } = await oidc.pkce();
  const browser = new oidc.CookieBrowser(server);
  const plain = await browser.get(oidc.authorizeUrl(server, strict, { code_challenge: challenge }));
  const refused = oidc.redirectedTo(plain, oidc.REDIRECT_URI);
  assert.equal(refused.get("error"), "invalid_request");
  assert.match(refused.get("error_description")!, /must push/);
  assert.equal(refused.get("state"), "state-1");
  const requestUri = await pushed(server, strict, { challenge });
  const fields = await browser.signInPage(pushedAuthorizeUrl(server, "strict", requestUri));
  const answer = oidc.redirectedTo(
    await browser.signIn(fields, "alice", oidc.PASSWORD),
    oidc.REDIRECT_URI,
  );
  assert.ok(answer.get("code"));
  // Signed in now, a plain request is still refused rather than answered with a code.
  const again = await browser.get(oidc.authorizeUrl(server, strict, { code_challenge: challenge }));
  assert.equal(oidc.redirectedTo(again, oidc.REDIRECT_URI).get("error"), "invalid_request");
  const noAuthorizationCode = await cliOn(server, [
    "clients",
    "add",
    "machine",
    "--grant",
    "client_credentials",
    "--require-par",
  ]);
  assert.notEqual(noAuthorizationCode.code, 0);
  assert.match(noAuthorizationCode.stderr, /--require-par needs the authorization_code grant/);
});

Deno.test("With REQUIRE_PAR every client's plain requests are sent back as invalid_request, discovery says so, and pushed ones run", async () => {
  await using server = await startTestServer({ users: USERS, env: { REQUIRE_PAR: "true" } });
  await addClient(server, "app", {
    redirectUris: [oidc.REDIRECT_URI],
    public: true,
    firstParty: true,
  });
  const discovery = await fetch(`${server.url}/.well-known/openid-configuration`, {
    client: server.client,
  });
  assert.equal((await discovery.json()).require_pushed_authorization_requests, true);
  const app = { clientId: "app", redirectUri: oidc.REDIRECT_URI };
  const { challenge } = await oidc.pkce();
  const browser = new oidc.CookieBrowser(server);
  const plain = await browser.get(oidc.authorizeUrl(server, app, { code_challenge: challenge }));
  const refused = oidc.redirectedTo(plain, oidc.REDIRECT_URI);
  assert.equal(refused.get("error"), "invalid_request");
  assert.match(refused.get("error_description")!, /REQUIRE_PAR/);
  const requestUri = await pushed(server, app, { challenge });
  const fields = await browser.signInPage(pushedAuthorizeUrl(server, "app", requestUri));
  const answer = oidc.redirectedTo(
    await browser.signIn(fields, "alice", oidc.PASSWORD),
    oidc.REDIRECT_URI,
  );
  assert.ok(answer.get("code"));
});
