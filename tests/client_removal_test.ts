/**
 * `clients remove` ends everything the client was given, on every instance: its refresh tokens
 * are refused at `/refresh` and at `/oauth/token` (with the client's id alone, with its old
 * secret, or with no client at all), its access tokens at `/hello` and `/userinfo`, its codes
 * cannot be exchanged, and its consents are gone. Registering the same client id again starts
 * afresh: nothing of the old registration works with the new secret, and users are asked for
 * consent again. A removal racing refreshes and sign-ins on another instance leaves no token of
 * the client alive. Each runs on two instances sharing one SQLite file and on two sharing one
 * PostgreSQL database: the tokens come from instance A, the removal from the command line, the
 * refusals are seen at instance B. A client dropped from `OAUTH_CLIENTS` is gone too: after a
 * restart without it, its refresh tokens never pass for a public client's, also when presented
 * many times at once, and their families end.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Cluster, eventually, startCluster, SYNC_DEADLINE_MS } from "./helpers/cluster.ts";
import {
  authorizeUrl,
  basicHeaders,
  CookieBrowser,
  formFields,
  pkce,
  type Reachable,
  redirectedTo,
  tokenRequest,
} from "./helpers/oidc.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { testNeeding } from "./helpers/prerequisites.ts";
import { addClient, cliOn, secretOf } from "./helpers/clients_cli.ts";
import type { ServerProcess } from "./helpers/process.ts";
import { waitFor } from "./helpers/wait.ts";
import { hello, refresh, startTestServer } from "./helpers/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";
import { sha256Hex } from "../src/auth/secrets.ts";

const PASSWORD = "alice-password-1";
const REDIRECT_URI = "https://web.example/callback";
/** The answers that refuse a grant without issuing anything. */
const REFUSALS = ["invalid_grant", "invalid_client", "unauthorized_client"];

type Json = Record<string, unknown>;
type Basic = { id: string; secret: string };

/** Registers the confidential third-party client "web" with every grant; returns its secret. */
async function addWeb(cluster: Cluster): Promise<string> {
  const added = await addClient(cluster, "web", {
    redirectUris: [REDIRECT_URI],
    scope: "openid profile hello",
    grants: ["authorization_code,refresh_token,password,client_credentials"],
  });
  return secretOf(added);
}

async function removeWeb(cluster: Cluster): Promise<void> {
  const removed = await cliOn(cluster, ["clients", "remove", "web"]);
  assert.equal(removed.code, 0, removed.stderr);
}

/** A code for "web" from `browser` at `server`: it signs in and allows access when asked. */
async function codeFor(
  browser: CookieBrowser,
  server: Reachable,
): Promise<{ code: string; verifier: string; consentShown: boolean }> {
  browser.server = server;
  const { verifier, challenge } = await pkce();
  const app = { clientId: "web", redirectUri: REDIRECT_URI };
  let res = await browser.get(
    authorizeUrl(server, app, { scope: "openid hello", code_challenge: challenge }),
  );
  let consentShown = false;
  for (let page = 0; page < 2 && res.status === 200; page++) {
    const html = await res.text();
    if (/<h1>Sign in<\/h1>/.test(html)) {
      res = await browser.signIn(formFields(html), "alice", PASSWORD);
    } else {
      assert.match(html, /<h1>Allow access\?<\/h1>/);
      consentShown = true;
      res = await browser.post("/consent", { ...formFields(html), decision: "allow" });
    }
  }
  const code = redirectedTo(res, REDIRECT_URI).get("code");
  assert.ok(code, "a code");
  return { code, verifier, consentShown };
}

/** Exchanges a code at the token endpoint, as the client with `basic` or by id alone. */
function exchange(
  server: Reachable,
  issued: { code: string; verifier: string },
  basic?: Basic,
): Promise<{ res: Response; body: Json }> {
  return tokenRequest(server, {
    grant_type: "authorization_code",
    code: issued.code,
    code_verifier: issued.verifier,
    redirect_uri: REDIRECT_URI,
    ...(basic === undefined && { client_id: "web" }),
  }, basic);
}

/** Tokens from a grant that must succeed. */
function granted({ res, body }: { res: Response; body: Json }, what: string): Json {
  assert.equal(res.status, 200, `${what}: ${JSON.stringify(body)}`);
  return body;
}

/** Why an answer is not a refusal that issues nothing, or undefined when it is one. */
function notRefused(status: number, body: Json): string | undefined {
  if ((status === 400 || status === 401) && REFUSALS.includes(String(body.error))) {
    return body.access_token === undefined ? undefined : "a refusal with tokens";
  }
  return `${status} error=${body.error} scope=${body.scope}`;
}

/** The status of a protected resource for an access token. */
async function statusAt(
  cluster: Cluster,
  server: ServerProcess,
  path: "/hello" | "/userinfo",
  token: unknown,
): Promise<number> {
  return (await cluster.call(server, path, { token: String(token) })).status;
}

async function removalOn(t: Deno.TestContext, kind: "sqlite" | "postgres"): Promise<void> {
  await using cluster = await startCluster(kind, { alice: PASSWORD });
  const { a, b } = cluster;
  const at = (server: ServerProcess): Reachable => ({ url: server.url, client: cluster.client });
  const secret = await addWeb(cluster);
  const basic = { id: "web", secret };

  // Everything the client gets, from A.
  const password = granted(
    await tokenRequest(at(a), {
      grant_type: "password",
      username: "alice",
      password: PASSWORD,
      scope: "hello",
    }, basic),
    "password grant",
  );
  const browser = new CookieBrowser(at(a));
  const first = await codeFor(browser, at(a));
  assert.equal(first.consentShown, true, "a third-party client asks for consent");
  const signedIn = granted(await exchange(at(a), first, basic), "first code");
  const families: Json[] = [];
  for (let i = 0; i < 3; i++) {
    families.push(granted(await exchange(at(a), await codeFor(browser, at(a)), basic), "code"));
  }
  const unredeemed = [await codeFor(browser, at(a)), await codeFor(browser, at(a))];
  const service = granted(
    await tokenRequest(at(a), { grant_type: "client_credentials", scope: "hello" }, basic),
    "client credentials",
  );
  assert.equal(await statusAt(cluster, b, "/hello", password.access_token), 200);
  assert.equal(await statusAt(cluster, b, "/userinfo", signedIn.access_token), 200);
  assert.equal(await statusAt(cluster, b, "/hello", service.access_token), 200);

  await removeWeb(cluster);

  await t.step("B refuses its refresh tokens at /refresh and at /oauth/token", async () => {
    const problems: string[] = [];
    const atRefresh = await cluster.call(b, "/refresh", {
      json: { refresh_token: password.refresh_token },
    });
    const problem = notRefused(atRefresh.status, atRefresh.body);
    if (problem) problems.push(`/refresh: ${problem}`);
    const attempts: [string, Record<string, string>, Basic | undefined][] = [
      ["client_id alone", { ...refreshForm(signedIn), client_id: "web" }, undefined],
      ["the old secret", refreshForm(families[0]), basic],
      ["no client", refreshForm(families[1]), undefined],
    ];
    for (const [what, form, credentials] of attempts) {
      const { res, body } = await tokenRequest(at(b), form, credentials);
      const problem = notRefused(res.status, body);
      if (problem) problems.push(`/oauth/token with ${what}: ${problem}`);
    }
    assert.deepEqual(problems, []);
  });

  await t.step("B refuses its access tokens at /hello and /userinfo", async () => {
    const checks: [string, "/hello" | "/userinfo", unknown][] = [
      ["the password grant's token at /hello", "/hello", password.access_token],
      ["the code's token at /userinfo", "/userinfo", signedIn.access_token],
      ["the client credentials token at /hello", "/hello", service.access_token],
    ];
    let accepted: string[] = [];
    await waitFor(() => `B to refuse ${accepted.join(", ")}`, async () => {
      accepted = [];
      for (const [what, path, token] of checks) {
        if (await statusAt(cluster, b, path, token) !== 401) accepted.push(what);
      }
      return accepted.length === 0;
    }, { timeoutMs: SYNC_DEADLINE_MS });
  });

  await t.step("B refuses to exchange its code", async () => {
    const { res, body } = await exchange(at(b), unredeemed[0]);
    assert.equal(notRefused(res.status, body), undefined);
  });

  const renewedSecret = await addWeb(cluster);
  const renewed = { id: "web", secret: renewedSecret };

  await t.step(
    "the same id registered again: the old refresh token and code are refused with the new secret",
    async () => {
      const problems: string[] = [];
      const refreshed = await tokenRequest(at(b), refreshForm(families[2]), renewed);
      const refreshProblem = notRefused(refreshed.res.status, refreshed.body);
      if (refreshProblem) problems.push(`refresh token: ${refreshProblem}`);
      const code = await exchange(at(b), unredeemed[1], renewed);
      const codeProblem = notRefused(code.res.status, code.body);
      if (codeProblem) problems.push(`code: ${codeProblem}`);
      assert.deepEqual(problems, []);
    },
  );

  await t.step(
    "the same id registered again asks for consent again, then works at both instances",
    async () => {
      const again = await codeFor(browser, at(b));
      assert.equal(again.consentShown, true, "the old consent went with the old registration");
      const tokens = granted(await exchange(at(a), again, renewed), "a new code");
      assert.equal(await statusAt(cluster, b, "/hello", tokens.access_token), 200);
    },
  );

  await t.step(
    "a removal while B refreshes and signs in for the client at once leaves none of its tokens alive",
    async () => {
      const start = await codeFor(browser, at(b));
      let chain = granted(await exchange(at(b), start, renewed), "the chain's start");
      const held: Json[] = [];
      let removing = true;
      const refreshing = (async () => {
        while (removing) {
          const { res, body } = await tokenRequest(at(b), refreshForm(chain), renewed);
          if (res.status !== 200) return;
          chain = body;
        }
      })();
      const signingIn = (async () => {
        while (removing) {
          const { challenge, verifier } = await pkce();
          browser.server = at(b);
          const res = await browser.get(
            authorizeUrl(at(b), { clientId: "web", redirectUri: REDIRECT_URI }, {
              scope: "openid hello",
              code_challenge: challenge,
            }),
          );
          const code = res.status === 303 ? redirectedTo(res, REDIRECT_URI).get("code") : null;
          await res.body?.cancel();
          if (!code) return;
          const { res: exchanged, body } = await exchange(at(b), { code, verifier }, renewed);
          if (exchanged.status !== 200) return;
          held.push(body);
        }
      })();
      await removeWeb(cluster);
      removing = false;
      await Promise.all([refreshing, signingIn]);
      held.push(chain);

      const problems: string[] = [];
      for (const [i, tokens] of held.entries()) {
        const { res, body } = await tokenRequest(at(b), {
          ...refreshForm(tokens),
          client_id: "web",
        });
        const problem = notRefused(res.status, body);
        if (problem) problems.push(`refresh token ${i} of ${held.length}: ${problem}`);
      }
      assert.deepEqual(problems, []);
      await eventually("both instances to refuse every access token of the client", async () => {
        for (const tokens of held) {
          for (const server of [a, b]) {
            if (await statusAt(cluster, server, "/hello", tokens.access_token) !== 401) {
              return false;
            }
          }
        }
        return true;
      });
    },
  );
}

/** A refresh token grant's form for the refresh token of `tokens`. */
function refreshForm(tokens: Json): Record<string, string> {
  return { grant_type: "refresh_token", refresh_token: String(tokens.refresh_token) };
}

Deno.test("SQLite, two instances: removing a client ends its tokens, codes and consents everywhere", async (t) => {
  await removalOn(t, "sqlite");
});

testNeeding([POSTGRESQL], {
  name:
    "PostgreSQL, two instances: removing a client ends its tokens, codes and consents everywhere",
  async fn(t) {
    await removalOn(t, "postgres");
  },
});

const SVC_SECRET = "svc-secret-0123456789abcdefghijklmnopqrstuvwxyz";

Deno.test("a client dropped from OAUTH_CLIENTS: after a restart its refresh tokens are refused everywhere without its secret, and their families end", async () => {
  await using dir = await tempDir();
  const svc = { id: "svc", secret: SVC_SECRET };
  const password = { grant_type: "password", username: "alice", password: PASSWORD };
  const issued: Json[] = [];
  let publicTokens: Json;
  {
    await using before = await startTestServer({
      dir: dir.path,
      users: { alice: PASSWORD },
      env: { OAUTH_CLIENTS: `svc:${SVC_SECRET}` },
    });
    for (let i = 0; i < 6; i++) {
      issued.push(granted(await tokenRequest(before, password, svc), "svc's password grant"));
    }
    publicTokens = granted(
      await tokenRequest(before, { ...password, client_id: "some-cli" }),
      "a public client's password grant",
    );
  }
  // Restarted without "svc", with a resource server that may introspect every token.
  const rs = { id: "rs", secret: `rs-${SVC_SECRET}` };
  await using after = await startTestServer({
    dir: dir.path,
    env: { OAUTH_CLIENTS: `rs:${rs.secret}`, OAUTH_INTROSPECTORS: "rs" },
  });
  const [viaRefresh, viaClientId, viaNoClient, viaParallel, viaRevoke, viaIntrospector] = issued;
  const problems: string[] = [];
  const expectGone = (what: string, status: number, body: Json) => {
    if (status !== 401 || body.error !== "invalid_client" || body.access_token !== undefined) {
      problems.push(`${what}: ${status} ${JSON.stringify(body)}`);
    } else if ((body.error_description ?? body.msg) !== 'Client "svc" no longer exists') {
      problems.push(`${what}: the answer does not say the client is gone: ${JSON.stringify(body)}`);
    }
  };

  const atRefresh = await refresh(after, String(viaRefresh.refresh_token));
  expectGone("/refresh", atRefresh.res.status, atRefresh.body);
  const byId = await tokenRequest(after, { ...refreshForm(viaClientId), client_id: "svc" });
  expectGone("/oauth/token with client_id=svc alone", byId.res.status, byId.body);
  const byNone = await tokenRequest(after, refreshForm(viaNoClient));
  expectGone("/oauth/token naming no client", byNone.res.status, byNone.body);

  // The same token presented many times at once, at both endpoints: none may rotate it.
  const parallel = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      if (i % 2 === 0) {
        const { res, body } = await refresh(after, String(viaParallel.refresh_token));
        return { what: `parallel /refresh ${i}`, status: res.status, body };
      }
      const { res, body } = await tokenRequest(after, {
        ...refreshForm(viaParallel),
        client_id: "svc",
      });
      return { what: `parallel /oauth/token ${i}`, status: res.status, body };
    }),
  );
  for (const { what, status, body } of parallel) expectGone(what, status, body);

  const introspected = await tokenRequestAt(after, "/oauth/introspect", {
    token: String(viaRevoke.refresh_token),
  }, rs);
  assert.equal(introspected.res.status, 200);
  assert.deepEqual(introspected.body, { active: false }, "inactive to an introspector");
  const introspectedState = await after.store.getRefreshToken(
    await sha256Hex(String(viaRevoke.refresh_token)),
  );
  assert.equal(introspectedState?.family.revokedAt, null, "introspection only reads");
  assert.deepEqual(refusalsOf(after, viaRevoke), [], "introspection records no refusal");
  const revoked = await tokenRequestAt(after, "/oauth/revoke", {
    token: String(viaRevoke.refresh_token),
    client_id: "svc",
  });
  assert.equal(revoked.res.status, 200, "revocation of a token that is gone answers 200");
  const revokedByRs = await tokenRequestAt(after, "/oauth/revoke", {
    token: String(viaIntrospector.refresh_token),
  }, rs);
  assert.equal(revokedByRs.res.status, 200, "another client's revocation of it answers 200 too");
  assert.deepEqual(problems, []);
  // Each refusal names the token's client, and the client that presented it apart.
  const attribution = [
    [viaRefresh, undefined],
    [viaClientId, "svc"],
    [viaRevoke, "svc"],
    [viaIntrospector, "rs"],
  ] as const;
  for (const [tokens, caller] of attribution) {
    const [first] = refusalsOf(after, tokens);
    assert.equal(first?.client, "svc", `the refusal of ${caller ?? "/refresh"} names svc`);
    assert.equal(first?.caller, caller, "and the caller apart");
  }

  for (const [i, tokens] of issued.entries()) {
    const state = await after.store.getRefreshToken(await sha256Hex(String(tokens.refresh_token)));
    assert.notEqual(state?.family.revokedAt ?? null, null, `family ${i} is revoked`);
    assert.equal(state?.token.usedAt, null, `refresh token ${i} was never rotated`);
    const { res } = await hello(after, `Bearer ${tokens.access_token}`);
    assert.equal(res.status, 401, `the access token of family ${i} ends with it`);
  }
  const again = await tokenRequest(after, { ...refreshForm(viaRefresh), client_id: "svc" });
  expectGone("a refused token presented again", again.res.status, again.body);
  for (let i = 0; i < 3; i++) {
    const replay = await refresh(after, String(viaParallel.refresh_token));
    expectGone(`a replay ${i} after the parallel ones`, replay.res.status, replay.body);
  }
  assert.deepEqual(problems, []);
  // However often and however parallel the tokens came back, each family ended once.
  const ends = issued.map((tokens) => refusalsOf(after, tokens).length);
  assert.deepEqual(ends, issued.map(() => 1), "one refusal recorded per family");

  const stillPublic = await refresh(after, String(publicTokens.refresh_token));
  assert.equal(stillPublic.res.status, 200, "a public client's token still refreshes");
});

/** The audit lines of `server` that refused the family of `tokens` as a removed client's. */
function refusalsOf(server: { logs: Json[] }, tokens: Json): Json[] {
  const [, payload] = String(tokens.access_token).split(".");
  const { sid } = JSON.parse(new TextDecoder().decode(Uint8Array.fromBase64(payload, {
    alphabet: "base64url",
  })));
  return server.logs.filter((line) =>
    line.msg === "audit" && line.event === "refresh_refused" && line.reason === "client_removed" &&
    line.session === sid
  );
}

/** A form POST to one of the token endpoint's siblings, with the client's `basic` if any. */
function tokenRequestAt(
  server: Reachable,
  path: "/oauth/introspect" | "/oauth/revoke",
  form: Record<string, string>,
  basic?: Basic,
): Promise<{ res: Response; body: Json }> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    client: server.client,
    headers: basicHeaders(basic),
    body: new URLSearchParams(form),
  }).then(async (res) => ({ res, body: await res.json() as Json }));
}
