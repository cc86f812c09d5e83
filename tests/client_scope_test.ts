/**
 * A registered client's `--scope` bounds every grant it uses: the password grant, the refresh
 * token grant, the client credentials grant and the authorization code flow. RFC 6749 §3.3 lets
 * the server either refuse a request beyond what the client may have or grant less; this service
 * refuses, as `/authorize` and the client credentials grant already do: a requested scope with
 * any token outside the registration answers 400 `invalid_scope` and issues nothing; a request
 * within it gets exactly what it asked for; a request naming no scope gets the default scope
 * (`hello`) narrowed to the registration, or `invalid_scope` when nothing of it is left.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import {
  authorizeUrl,
  CookieBrowser,
  formFields,
  pkce,
  redirectedTo,
  type TestClient,
  tokenRequest,
} from "./helpers/oidc.ts";
import { type CliResult, runCli } from "./helpers/process.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const PASSWORD = "alice-password-1";
const REDIRECT_URI = "https://narrow.example/callback";
const ALL_GRANTS = "authorization_code,refresh_token,password,client_credentials";

type Json = Record<string, unknown>;

/** What a request must get: exactly this scope, or `invalid_scope`. */
type Expected = { scope: string } | "invalid_scope";

/** Registers a confidential first-party client with the CLI; returns it with its secret. */
async function register(
  server: TestServer,
  clientId: string,
  scope: string,
  grants = ALL_GRANTS,
): Promise<TestClient & { secret: string }> {
  const added: CliResult = await runCli([
    "clients",
    "add",
    clientId,
    "--redirect-uri",
    REDIRECT_URI,
    "--first-party",
    "--scope",
    scope,
    "--grant",
    grants,
  ], { cwd: server.dir, env: { DATABASE_URL: `sqlite:${server.dir}/data/auth.db` } });
  assert.equal(added.code, 0, added.stderr);
  const secret = /^client_secret: (\S+)$/m.exec(added.stdout)?.[1];
  assert.ok(secret, added.stdout);
  return { clientId, secret, redirectUri: REDIRECT_URI };
}

/**
 * Whether an answer of the token endpoint is what `expected` says; returns a description of the
 * difference, or undefined when it matches. A granted scope must also be the access token's.
 */
function mismatch(res: Response, body: Json, expected: Expected): string | undefined {
  // Tokens stay out of the description: it is printed when the test fails.
  const got = `${res.status} error=${body.error} scope=${JSON.stringify(body.scope)}`;
  if (expected === "invalid_scope") {
    if (res.status === 400 && body.error === "invalid_scope" && body.access_token === undefined) {
      return undefined;
    }
    return `expected 400 invalid_scope, got ${got}`;
  }
  if (res.status !== 200) return `expected 200, got ${got}`;
  const claim = decodeJwt(String(body.access_token)).scope;
  if (body.scope !== expected.scope || claim !== expected.scope) {
    return `expected scope "${expected.scope}", got "${body.scope}" (token: "${claim}")`;
  }
  return undefined;
}

/** A scope as a form field: absent when undefined. */
function scopeField(scope: string | undefined): Record<string, string> {
  return scope === undefined ? {} : { scope };
}

/** Requested scopes and what a client registered with `hello` alone must get for each. */
const HELLO_ONLY_CASES: [string | undefined, Expected][] = [
  [undefined, { scope: "hello" }],
  ["hello", { scope: "hello" }],
  ["hello hello", { scope: "hello" }],
  ["openid profile", "invalid_scope"],
  ["openid", "invalid_scope"],
  ["profile", "invalid_scope"],
  ["hello openid", "invalid_scope"],
  ["hello profile", "invalid_scope"],
  ["admin", "invalid_scope"],
];

Deno.test("the password grant of a client registered with --scope hello grants only hello: openid and profile are invalid_scope", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const narrow = await register(server, "narrow", "hello");
  const problems: string[] = [];
  for (const [requested, expected] of HELLO_ONLY_CASES) {
    const { res, body } = await tokenRequest(server, {
      grant_type: "password",
      username: "alice",
      password: PASSWORD,
      ...scopeField(requested),
    }, { id: narrow.clientId, secret: narrow.secret });
    const problem = mismatch(res, body, expected);
    if (problem) problems.push(`scope ${JSON.stringify(requested)}: ${problem}`);
  }
  assert.deepEqual(problems, []);
});

Deno.test("the password grant of a client registered with --scope 'openid profile' never grants hello, not even as the default", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const profiled = await register(server, "profiled", "openid profile");
  const cases: [string | undefined, Expected][] = [
    // The default scope, hello, is outside the registration: nothing of it is left.
    [undefined, "invalid_scope"],
    ["hello", "invalid_scope"],
    ["openid hello", "invalid_scope"],
    ["openid profile", { scope: "openid profile" }],
    ["profile", { scope: "profile" }],
  ];
  const problems: string[] = [];
  for (const [requested, expected] of cases) {
    const { res, body } = await tokenRequest(server, {
      grant_type: "password",
      username: "alice",
      password: PASSWORD,
      ...scopeField(requested),
    }, { id: profiled.clientId, secret: profiled.secret });
    const problem = mismatch(res, body, expected);
    if (problem) problems.push(`scope ${JSON.stringify(requested)}: ${problem}`);
  }
  assert.deepEqual(problems, []);
});

Deno.test("the refresh token, client credentials and authorization code grants of a client registered with --scope hello grant only hello", async (t) => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const narrow = await register(server, "narrow", "hello");
  const basic = { id: narrow.clientId, secret: narrow.secret };

  await t.step("refresh_token", async () => {
    const problems: string[] = [];
    for (const [requested, expected] of HELLO_ONLY_CASES) {
      // A session of its own for each request: a refused refresh may end the session.
      const started = await tokenRequest(server, {
        grant_type: "password",
        username: "alice",
        password: PASSWORD,
        scope: "hello",
      }, basic);
      assert.equal(started.res.status, 200, JSON.stringify(started.body));
      const { res, body } = await tokenRequest(server, {
        grant_type: "refresh_token",
        refresh_token: String(started.body.refresh_token),
        ...scopeField(requested),
      }, basic);
      const problem = mismatch(res, body, expected);
      if (problem) problems.push(`scope ${JSON.stringify(requested)}: ${problem}`);
    }
    assert.deepEqual(problems, []);
  });

  await t.step("client_credentials", async () => {
    const problems: string[] = [];
    for (const [requested, expected] of HELLO_ONLY_CASES) {
      const { res, body } = await tokenRequest(server, {
        grant_type: "client_credentials",
        ...scopeField(requested),
      }, basic);
      const problem = mismatch(res, body, expected);
      if (problem) problems.push(`scope ${JSON.stringify(requested)}: ${problem}`);
    }
    assert.deepEqual(problems, []);
  });

  await t.step(
    "authorization_code: refused at /authorize, or exactly the scope asked",
    async () => {
      const browser = new CookieBrowser(server);
      const problems: string[] = [];
      let signedIn = false;
      for (const [requested, expected] of HELLO_ONLY_CASES) {
        const { verifier, challenge } = await pkce();
        const url = authorizeUrl(server, narrow, { scope: requested, code_challenge: challenge });
        let res = await browser.get(url);
        if (res.status === 200) {
          // The first request that gets as far as the sign-in page signs the browser in.
          assert.equal(signedIn, false, "single sign-on after the first sign-in");
          res = await browser.signIn(formFields(await res.text()), "alice", PASSWORD);
          signedIn = true;
        }
        const query = redirectedTo(res, REDIRECT_URI);
        if (expected === "invalid_scope") {
          if (query.get("error") !== "invalid_scope" || query.has("code")) {
            problems.push(`scope ${JSON.stringify(requested)}: redirected with ${query}`);
          }
          continue;
        }
        const code = query.get("code");
        if (!code) {
          problems.push(`scope ${JSON.stringify(requested)}: no code but ${query}`);
          continue;
        }
        const { res: exchanged, body } = await tokenRequest(server, {
          grant_type: "authorization_code",
          code,
          code_verifier: verifier,
          redirect_uri: REDIRECT_URI,
        }, basic);
        const problem = mismatch(exchanged, body, expected);
        if (problem) problems.push(`scope ${JSON.stringify(requested)}: ${problem}`);
      }
      assert.deepEqual(problems, []);
    },
  );
});

Deno.test("no grant of a client registered with --scope hello yields a token that /userinfo accepts", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const narrow = await register(server, "narrow", "hello");
  const basic = { id: narrow.clientId, secret: narrow.secret };
  const tokens: string[] = [];
  for (const scope of ["openid", "openid profile", "hello openid profile"]) {
    const forms: Record<string, string>[] = [
      { grant_type: "password", username: "alice", password: PASSWORD, scope },
      { grant_type: "client_credentials", scope },
    ];
    for (const form of forms) {
      const { body } = await tokenRequest(server, form, basic);
      if (typeof body.access_token === "string") tokens.push(body.access_token);
    }
  }
  const accepted: string[] = [];
  for (const token of tokens) {
    const res = await fetch(`${server.url}/userinfo`, {
      client: server.client,
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await res.json();
    if (res.status === 200) accepted.push(JSON.stringify(body));
  }
  assert.deepEqual(accepted, [], "no token of this client is an OpenID Connect one");
});

Deno.test("the default client and a client registered with every scope keep their grants: openid profile through the password grant", async () => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const wide = await register(server, "wide", "openid profile hello");
  const problems: string[] = [];
  const cases: [Json, { id: string; secret: string } | undefined, Expected][] = [
    [{ scope: "openid profile" }, { id: wide.clientId, secret: wide.secret }, {
      scope: "openid profile",
    }],
    [{}, { id: wide.clientId, secret: wide.secret }, { scope: "hello" }],
    [{}, undefined, { scope: "hello" }],
    [{ scope: "hello openid" }, undefined, { scope: "hello openid" }],
  ];
  for (const [fields, basic, expected] of cases) {
    const { res, body } = await tokenRequest(server, {
      grant_type: "password",
      username: "alice",
      password: PASSWORD,
      ...fields as Record<string, string>,
    }, basic);
    const problem = mismatch(res, body, expected);
    if (problem) {
      problems.push(`${basic?.id ?? "default client"} ${JSON.stringify(fields)}: ${problem}`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("a password grant refused for its scope is refused before the password is checked: wrong passwords at once count no failure", async () => {
  await using server = await startTestServer({
    users: { alice: PASSWORD },
    env: { THROTTLE_FREE_FAILURES: "2" },
  });
  const narrow = await register(server, "narrow", "hello");
  const attempts = [
    ...Array.from({ length: 12 }, () => ({
      basic: { id: narrow.clientId, secret: narrow.secret },
      scope: "openid",
    })),
    // The default client, asking for a scope the service does not know.
    ...Array.from({ length: 12 }, () => ({ basic: undefined, scope: "admin" })),
  ];
  const answers = await Promise.all(attempts.map(({ basic, scope }) =>
    tokenRequest(server, {
      grant_type: "password",
      username: "alice",
      password: "wrong-password",
      scope,
    }, basic)
  ));
  const problems = answers
    .map(({ res, body }) => mismatch(res, body, "invalid_scope"))
    .filter((problem) => problem !== undefined);
  assert.deepEqual(problems, []);
  // Two free failures: had any of those been counted, alice would be throttled now.
  const { res, body } = await tokenRequest(server, {
    grant_type: "password",
    username: "alice",
    password: PASSWORD,
    scope: "hello",
  }, { id: narrow.clientId, secret: narrow.secret });
  assert.equal(mismatch(res, body, { scope: "hello" }), undefined);
});
