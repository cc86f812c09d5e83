/**
 * @module
 * The token endpoint's authorization code and client credentials grants over HTTPS: a code is
 * single-use, short-lived and bound to its client, redirect URI and PKCE verifier; a replayed
 * code revokes what it issued, also when replays race the first exchange; registered clients
 * use only their grants.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { sha256Hex } from "../src/auth/secrets.ts";
import { unixNow } from "../src/clock.ts";
import * as oidc from "./helpers/oidc.ts";
import {
  assertRevoked,
  hello,
  refresh,
  startTestServer,
  subjectOf,
  testHasher,
  type TestServer,
} from "./helpers/server.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

const USERS = { alice: oidc.PASSWORD };

async function setUp(): Promise<{ server: TestServer; app: oidc.TestClient }> {
  const server = await startTestServer({ users: USERS });
  const app = await oidc.registerClient(server, {
    clientId: "app",
    redirectUris: [oidc.REDIRECT_URI, "https://app.example/second"],
    scope: "openid profile hello",
  });
  return { server, app };
}

/** Asserts a refused exchange: 400 `invalid_grant` (or `code`) with an RFC 6749 §5.2 body. */
function assertRefused(
  result: { res: Response; body: Record<string, unknown> },
  message: RegExp,
  code = "invalid_grant",
): void {
  assert.equal(
    result.res.status,
    code === "invalid_client" ? 401 : 400,
    JSON.stringify(result.body),
  );
  assert.equal(result.body.error, code);
  assert.match(String(result.body.error_description), message);
  assert.equal(result.body.access_token, undefined);
}

/** Asserts that an access token and a refresh token no longer work. */
async function assertSessionRevoked(
  server: TestServer,
  tokens: Record<string, unknown>,
): Promise<void> {
  await assertRevoked(server, String(tokens.access_token));
  const refreshed = await oidc.tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: String(tokens.refresh_token),
    client_id: "app",
  });
  assert.equal(refreshed.body.error, "invalid_grant");
}

Deno.test("POST /oauth/token exchanges a code for access, refresh and ID tokens once", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { code, verifier } = await oidc.authorizationCode(server, app, {
    params: { scope: "openid hello" },
  });
  const { res, body } = await oidc.redeem(server, app, code, verifier);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.deepEqual(Object.keys(body).sort(), [
    "access_token",
    "expires_in",
    "id_token",
    "refresh_token",
    "scope",
    "token_type",
  ]);
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.scope, "openid hello");
  const access = decodeJwt(String(body.access_token));
  assert.equal(access.sub, await subjectOf(server, "alice"));
  assert.equal(access.preferred_username, "alice");
  assert.equal(access.client_id, "app");
  assert.equal((await hello(server, `Bearer ${body.access_token}`)).res.status, 200);
  const refreshed = await oidc.tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: String(body.refresh_token),
    client_id: "app",
  });
  assert.equal(refreshed.res.status, 200);
  assert.equal(refreshed.body.scope, "openid hello");
  // Rotation and reuse detection hold for these refresh tokens as for /login's.
  const reused = await oidc.tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: String(body.refresh_token),
    client_id: "app",
  });
  assert.equal(reused.body.error, "invalid_grant");
  await assertSessionRevoked(server, refreshed.body);
});

Deno.test("a code is bound to its PKCE verifier, redirect URI and client, and spent by a wrong attempt", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const other = await oidc.registerClient(server, {
    clientId: "other",
    redirectUris: [oidc.REDIRECT_URI],
  });
  const attempts: [string, (code: string, verifier: string) => Record<string, string>, RegExp][] = [
    [
      "wrong verifier",
      (code) => ({ code, code_verifier: (crypto.randomUUID() + "x").repeat(2) }),
      /code_verifier/,
    ],
    ["missing verifier", (code) => ({ code }), /code_verifier/],
    [
      "too short a verifier",
      (code, verifier) => ({ code, code_verifier: verifier.slice(0, 20) }),
      /code_verifier/,
    ],
    ["other redirect_uri", (code, verifier) => ({
      code,
      code_verifier: verifier,
      redirect_uri: "https://app.example/second",
    }), /redirect_uri/],
    ["missing redirect_uri", (code, verifier) => ({
      code,
      code_verifier: verifier,
      redirect_uri: "",
    }), /redirect_uri/],
    ["another client (code injection)", (code, verifier) => ({
      code,
      code_verifier: verifier,
      client_id: other.clientId,
    }), /another client/],
  ];
  for (const [what, form, message] of attempts) {
    const { code, verifier } = await oidc.authorizationCode(server, app);
    const wrong = await oidc.tokenRequest(server, {
      grant_type: "authorization_code",
      redirect_uri: oidc.REDIRECT_URI,
      client_id: app.clientId,
      ...form(code, verifier),
    });
    assertRefused(wrong, message);
    // The code is spent: the right request now fails too, as a replay.
    assertRefused(await oidc.redeem(server, app, code, verifier), /already used/, "invalid_grant");
    assert.ok(what);
  }
});

Deno.test("a replayed code is refused and revokes every token issued with it", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { code, verifier } = await oidc.authorizationCode(server, app, {
    params: { scope: "openid hello" },
  });
  const first = await oidc.redeem(server, app, code, verifier);
  assert.equal(first.res.status, 200);
  assert.equal((await hello(server, `Bearer ${first.body.access_token}`)).res.status, 200);
  const replay = await oidc.redeem(server, app, code, verifier);
  assertRefused(replay, /already used; the tokens issued with it have been revoked/);
  await assertSessionRevoked(server, first.body);
});

Deno.test("one code exchanged many times at once: at most one answer has tokens, and they end up revoked", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  for (let round = 0; round < 8; round++) {
    const { code, verifier } = await oidc.authorizationCode(server, app, {
      params: { scope: "openid hello" },
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => oidc.redeem(server, app, code, verifier)),
    );
    // A replay that arrives while the first exchange is issuing its tokens makes that exchange
    // fail too: its tokens would be revoked at once anyway.
    const winners = results.filter((result) => result.res.status === 200);
    assert.ok(winners.length <= 1, `round ${round}: ${results.map((r) => r.res.status)}`);
    for (const result of results.filter((result) => result !== winners[0])) {
      assert.equal(result.body.error, "invalid_grant");
      assert.match(String(result.body.error_description), /already used/);
    }
    if (winners[0]) await assertSessionRevoked(server, winners[0].body);
  }
});

Deno.test("an expired or unknown code is refused with invalid_grant", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const code = "E".repeat(43);
  const now = unixNow();
  await server.store.addAuthorizationCode({
    codeHash: await sha256Hex(code),
    clientId: app.clientId,
    username: "alice",
    subject: (await server.store.getUser("alice"))!.subject,
    redirectUri: oidc.REDIRECT_URI,
    scope: "openid",
    codeChallenge: (await oidc.pkce()).challenge,
    nonce: null,
    authTime: now - 120,
    browserSid: crypto.randomUUID(),
    createdAt: now - 61,
    expiresAt: now - 1,
    usedAt: null,
    familyId: null,
    replayedAt: null,
  });
  assertRefused(await oidc.redeem(server, app, code, "v".repeat(43)), /expired/);
  assertRefused(
    await oidc.redeem(server, app, "U".repeat(43), "v".repeat(43)),
    /Invalid authorization code/,
  );
  assertRefused(
    await oidc.redeem(server, app, "not a code", "v".repeat(43)),
    /Invalid authorization code/,
  );
  assertRefused(
    await oidc.tokenRequest(server, { grant_type: "authorization_code", client_id: "app" }),
    /Missing code/,
    "invalid_request",
  );
});

Deno.test("a code whose browser session was signed out before the exchange issues nothing", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const { code, verifier, browser } = await oidc.authorizationCode(server, app);
  const page = await browser.get(`${server.url}/end-session`);
  const fields = /name="request" value="([^"]+)"[\s\S]*name="csrf_token" value="([^"]+)"/.exec(
    await page.text(),
  )!;
  const signedOut = await browser.post("/sign-out", { request: fields[1], csrf_token: fields[2] });
  assert.equal(signedOut.status, 200);
  await signedOut.body?.cancel();
  assertRefused(
    await oidc.redeem(server, app, code, verifier),
    /browser session of this code has ended/,
  );
});

Deno.test("a confidential client must authenticate to exchange its code, by Basic or client_secret_post", async () => {
  const server = await startTestServer({ users: USERS });
  await using _ = server;
  const app = await oidc.registerClient(server, {
    clientId: "web",
    redirectUris: [oidc.REDIRECT_URI],
    public: false,
  });
  const secret = app.secret!;
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal((await server.store.getClient("web"))?.secretHash, await sha256Hex(secret));

  let { code, verifier } = await oidc.authorizationCode(server, app);
  const form = {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    redirect_uri: oidc.REDIRECT_URI,
  };
  assertRefused(
    await oidc.tokenRequest(server, { ...form, client_id: "web" }),
    /must authenticate/,
    "invalid_client",
  );
  assertRefused(
    await oidc.tokenRequest(server, form, { id: "web", secret: "x".repeat(43) }),
    /authentication failed/,
    "invalid_client",
  );
  const basic = await oidc.tokenRequest(server, form, { id: "web", secret });
  assert.equal(basic.res.status, 200, "the failed authentications did not spend the code");
  ({ code, verifier } = await oidc.authorizationCode(server, app));
  const post = await oidc.tokenRequest(server, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    redirect_uri: oidc.REDIRECT_URI,
    client_id: "web",
    client_secret: secret,
  });
  assert.equal(post.res.status, 200);

  // Its refresh token works only at /oauth/token with the secret. /refresh takes no client
  // credentials: whoever presents the token there has not the secret, and the session ends.
  const unauthenticated = await oidc.tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: String(post.body.refresh_token),
    client_id: "web",
  });
  assert.equal(unauthenticated.body.error, "invalid_client");
  const renewed = await oidc.tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: String(post.body.refresh_token),
  }, { id: "web", secret });
  assert.equal(renewed.res.status, 200, JSON.stringify(renewed.body));
  const atRefresh = await refresh(server, String(renewed.body.refresh_token));
  assert.equal(atRefresh.res.status, 400, JSON.stringify(atRefresh.body));
  assert.match(String(atRefresh.body.msg), /redeemed only at \/oauth\/token/);
  await assertRevoked(server, String(renewed.body.access_token));
});

Deno.test("without openid there is no ID token; without the refresh_token grant no refresh token, and a replay still revokes the access token", async () => {
  const server = await startTestServer({ users: USERS });
  await using _ = server;
  const app = await oidc.registerClient(server, {
    clientId: "app",
    redirectUris: [oidc.REDIRECT_URI],
    grantTypes: ["authorization_code"],
  });
  const { code, verifier } = await oidc.authorizationCode(server, app, {
    params: { scope: "hello" },
  });
  const { res, body } = await oidc.redeem(server, app, code, verifier);
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "scope", "token_type"]);
  assert.equal(body.scope, "hello");
  assert.equal((await hello(server, `Bearer ${body.access_token}`)).res.status, 200);
  assertRefused(await oidc.redeem(server, app, code, verifier), /already used/);
  await assertRevoked(server, String(body.access_token));
});

Deno.test("registered clients use only their grants; unregistered client ids keep the password grant", async () => {
  const server = await startTestServer({ users: USERS });
  await using _ = server;
  await oidc.registerClient(server, { clientId: "spa", redirectUris: [oidc.REDIRECT_URI] });
  const password = { grant_type: "password", username: "alice", password: oidc.PASSWORD };
  assertRefused(
    await oidc.tokenRequest(server, { ...password, client_id: "spa" }),
    /may not use the password grant/,
    "unauthorized_client",
  );
  const legacy = await oidc.tokenRequest(server, { ...password, client_id: "some-cli" });
  assert.equal(legacy.res.status, 200, "as before: public clients name themselves");
  const withPassword = await oidc.registerClient(server, {
    clientId: "first-party-cli",
    redirectUris: [],
    grantTypes: ["password", "refresh_token"],
  });
  const granted = await oidc.tokenRequest(server, {
    ...password,
    client_id: withPassword.clientId,
  });
  assert.equal(granted.res.status, 200);
  assertRefused(
    await oidc.tokenRequest(server, {
      ...password,
      client_id: "spa",
      client_secret: "x".repeat(43),
    }),
    /authentication failed/,
    "invalid_client",
  );
});

Deno.test("client_credentials: a confidential client gets a token for itself, without refresh token, session or a user's name", async () => {
  const server = await startTestServer({ users: USERS });
  await using _ = server;
  const machine = await oidc.registerClient(server, {
    clientId: "reporting",
    redirectUris: [],
    public: false,
    grantTypes: ["client_credentials"],
    scope: "hello openid",
  });
  const auth = { id: "reporting", secret: machine.secret! };
  const { res, body } = await oidc.tokenRequest(server, { grant_type: "client_credentials" }, auth);
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "scope", "token_type"]);
  assert.equal(body.scope, "hello", "user scopes such as openid mean nothing here");
  const claims = decodeJwt(String(body.access_token));
  assert.equal(claims.sub, "reporting");
  assert.equal(claims.client_id, "reporting");
  assert.equal(claims.sid, undefined);
  assert.equal(claims.preferred_username, undefined, "no user");
  const greeted = await hello(server, `Bearer ${body.access_token}`);
  assert.equal(greeted.body.message, "Hello, client reporting! You're authenticated.");
  const userinfo = await fetch(`${server.url}/userinfo`, {
    client: server.client,
    headers: { authorization: `Bearer ${body.access_token}` },
  });
  assert.equal(userinfo.status, 403, "a client's token is not a user's");
  await userinfo.body?.cancel();

  assertRefused(
    await oidc.tokenRequest(server, { grant_type: "client_credentials", scope: "openid" }, auth),
    /openid/,
    "invalid_scope",
  );
  assertRefused(
    await oidc.tokenRequest(server, { grant_type: "client_credentials" }, {
      id: "reporting",
      secret: "y".repeat(43),
    }),
    /authentication failed/,
    "invalid_client",
  );
  const web = await oidc.registerClient(server, {
    clientId: "web",
    redirectUris: [oidc.REDIRECT_URI],
    public: false,
  });
  assertRefused(
    await oidc.tokenRequest(server, { grant_type: "client_credentials" }, {
      id: "web",
      secret: web.secret!,
    }),
    /may not use the client credentials grant/,
    "unauthorized_client",
  );
});

Deno.test("single sign-on: a second client's code is issued without the form, with the same session in its ID token", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const second = await oidc.registerClient(server, {
    clientId: "second",
    redirectUris: ["https://second.example/cb"],
  });
  const browser = new oidc.CookieBrowser(server);
  const first = await oidc.authorizationCode(server, app, { browser });
  const { challenge, verifier } = await oidc.pkce();
  const res = await browser.get(oidc.authorizeUrl(server, second, { code_challenge: challenge }));
  const code = oidc.redirectedTo(res, "https://second.example/cb").get("code")!;
  const [one, two] = await Promise.all([
    oidc.redeem(server, app, first.code, first.verifier),
    oidc.redeem(server, second, code, verifier),
  ]);
  const [a, b] = [decodeJwt(String(one.body.id_token)), decodeJwt(String(two.body.id_token))];
  assert.equal(a.sid, b.sid);
  assert.equal(a.auth_time, b.auth_time);
  assert.deepEqual([a.aud, b.aud], ["app", "second"]);
});

Deno.test("a code redeemed while the user's password changes leaves no working session (20 rounds)", async () => {
  const { server, app } = await setUp();
  await using _ = server;
  const hasher = testHasher();
  const passwords = [oidc.PASSWORD, "alice-password-2"];
  const hashes = await Promise.all(passwords.map((password) => hasher.hash(password)));
  const survivors: string[] = [];
  for (let round = 0; round < 20; round++) {
    const { code, verifier } = await oidc.authorizationCode(server, app, {
      password: passwords[round % 2],
      params: { scope: "openid hello" },
    });
    // The change comes 0 to 4 ms after the exchange starts, to meet it at every step.
    const [redeemed, change] = await Promise.all([
      oidc.redeem(server, app, code, verifier),
      sleep(round % 5).then(() =>
        server.store.changePassword("alice", hashes[(round + 1) % 2], unixNow())
      ),
    ]);
    assert.ok(change.found);
    if (redeemed.res.status !== 200) {
      assertRefused(redeemed, /browser session of this code has ended/);
      continue;
    }
    survivors.push(String(redeemed.body.access_token));
    const refused = await oidc.tokenRequest(server, {
      grant_type: "refresh_token",
      refresh_token: String(redeemed.body.refresh_token),
      client_id: "app",
    });
    assert.equal(refused.body.error, "invalid_grant", `round ${round}`);
    const { sid } = decodeJwt(String(redeemed.body.access_token));
    const revocations = await server.store.listRevocations(0, unixNow());
    assert.ok(
      revocations.some((revocation) => revocation.kind === "sid" && revocation.id === sid),
      `round ${round}: the access tokens' session is revoked`,
    );
  }
  // The server refuses them from its next sync of the store on.
  await waitFor("the answered access tokens to be refused", async () => {
    for (const token of survivors) {
      if ((await hello(server, `Bearer ${token}`)).res.status !== 401) return false;
    }
    return true;
  });
  console.log(
    `${survivors.length} of 20 exchanges answered before the change revoked their session`,
  );
});
