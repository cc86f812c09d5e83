/**
 * Who a token is about. An account's `sub` (OpenID Connect Core §2: locally unique and never
 * reassigned) is the same in every ID token, access token and `/userinfo` answer of that account,
 * and a new account under a removed account's name gets a new one, without the old account's
 * consents; names stay where people read them (`preferred_username`, the `/hello` greeting). A
 * client id never passes for a username (RFC 9068 §5): `clients add` refuses a
 * client-credentials client named like an existing user, `user add` refuses the name of such a
 * client, also when both are asked at once, and `/hello` never greets a client as if it were a
 * user.
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
  tokenRequest,
} from "./helpers/oidc.ts";
import { type CliResult, runCli } from "./helpers/process.ts";
import { hello, login, startTestServer, type TestServer } from "./helpers/server.ts";

const PASSWORD = "alice-password-1";
const NEW_PASSWORD = "alice-password-2";
const REDIRECT_URI = "https://app.example/callback";

type Json = Record<string, unknown>;

/** Runs a CLI command on the server's store. */
function cli(server: TestServer, args: string[], stdin?: string): Promise<CliResult> {
  return runCli(args, {
    cwd: server.dir,
    env: { DATABASE_URL: `sqlite:${server.dir}/data/auth.db` },
    stdin,
  });
}

/** Asserts a CLI refusal: exit 1 and one `Error:` line matching `pattern`. */
function assertRefused(result: CliResult, pattern: RegExp): void {
  // Only the first line: the rest of a registration's output is its secret.
  assert.equal(result.code, 1, `refused, not: ${result.stdout.split("\n")[0]}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /^Error: /);
  assert.match(lines[0], pattern);
}

/** What one sign-in of a fresh browser through the third-party client "app" gave. */
interface SignIn {
  /** Whether the consent page was shown (and allowed). */
  consentShown: boolean;
  tokens: Json;
}

/** Signs a fresh browser in as `username` through "app", allowing consent when asked. */
async function signIn(server: TestServer, username: string, password: string): Promise<SignIn> {
  const browser = new CookieBrowser(server);
  const app = { clientId: "app", redirectUri: REDIRECT_URI };
  const { verifier, challenge } = await pkce();
  const page = await browser.signInPage(
    authorizeUrl(server, app, { scope: "openid profile hello", code_challenge: challenge }),
  );
  let res = await browser.signIn(page, username, password);
  let consentShown = false;
  if (res.status === 200) {
    const html = await res.text();
    assert.match(html, /<h1>Allow access\?<\/h1>/);
    consentShown = true;
    res = await browser.post("/consent", { ...formFields(html), decision: "allow" });
  }
  const code = redirectedTo(res, REDIRECT_URI).get("code");
  assert.ok(code, "a code");
  const { res: exchanged, body } = await tokenRequest(server, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT_URI,
    client_id: app.clientId,
  });
  assert.equal(exchanged.status, 200, JSON.stringify(body));
  return { consentShown, tokens: body };
}

async function userinfo(server: TestServer, accessToken: unknown): Promise<Json> {
  const res = await fetch(`${server.url}/userinfo`, {
    client: server.client,
    headers: { authorization: `Bearer ${accessToken}` },
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** The `sub` of a token. */
function subOf(token: unknown): unknown {
  return decodeJwt(String(token)).sub;
}

/** The subjects one account shows: ID token, access token, /userinfo and /login's token. */
async function subjectsOf(server: TestServer, signIn: SignIn, password: string) {
  const { tokens } = signIn;
  const info = await userinfo(server, tokens.access_token);
  const loggedIn = await login(server, "alice", password);
  assert.equal(loggedIn.res.status, 200, JSON.stringify(loggedIn.body));
  const refreshed = await tokenRequest(server, {
    grant_type: "refresh_token",
    refresh_token: String(tokens.refresh_token),
    client_id: "app",
  });
  assert.equal(refreshed.res.status, 200, JSON.stringify(refreshed.body));
  return {
    idToken: subOf(tokens.id_token),
    accessToken: subOf(tokens.access_token),
    refreshed: subOf(refreshed.body.access_token),
    userinfo: info.sub,
    login: subOf(loggedIn.body.access_token),
    preferredUsername: info.preferred_username,
  };
}

Deno.test("an account's sub is one value in every token and never passes to a new account of the same name; the consents stay with the old one", async (t) => {
  await using server = await startTestServer({ users: { alice: PASSWORD } });
  const added = await cli(server, [
    "clients",
    "add",
    "app",
    "--redirect-uri",
    REDIRECT_URI,
    "--public",
    "--scope",
    "openid profile hello",
  ]);
  assert.equal(added.code, 0, added.stderr);

  // The whole story first, then what it must show, each on its own.
  const first = await signIn(server, "alice", PASSWORD);
  const before = await subjectsOf(server, first, PASSWORD);
  const again = await signIn(server, "alice", PASSWORD);
  const removed = await cli(server, ["user", "remove", "alice"]);
  assert.equal(removed.code, 0, removed.stderr);
  const readded = await cli(server, ["user", "add", "alice"], `${NEW_PASSWORD}\n`);
  assert.equal(readded.code, 0, readded.stderr);
  const renewed = await signIn(server, "alice", NEW_PASSWORD);
  const after = await subjectsOf(server, renewed, NEW_PASSWORD);

  await t.step("one account: the same sub in ID tokens, access tokens and /userinfo", () => {
    const sub = before.idToken;
    assert.equal(typeof sub, "string");
    assert.deepEqual(
      [before.accessToken, before.refreshed, before.userinfo, before.login],
      [sub, sub, sub, sub],
    );
    assert.equal(subOf(again.tokens.id_token), sub, "a second sign-in");
    assert.equal(again.consentShown, false, "the consent was remembered");
  });

  await t.step("the new account of the same name has a sub of its own", () => {
    const sub = after.idToken;
    assert.equal(typeof sub, "string");
    assert.deepEqual([after.accessToken, after.refreshed, after.userinfo, after.login], [
      sub,
      sub,
      sub,
      sub,
    ]);
    assert.notEqual(sub, before.idToken, "a sub is never reassigned");
  });

  await t.step("the new account is asked for consent again", () => {
    assert.equal(first.consentShown, true);
    assert.equal(renewed.consentShown, true, "the old account's consent did not carry over");
  });

  await t.step("names stay by name: preferred_username and the /hello greeting", async () => {
    assert.equal(before.preferredUsername, "alice");
    assert.equal(after.preferredUsername, "alice");
    const greeted = await hello(server, `Bearer ${renewed.tokens.access_token}`);
    assert.equal(greeted.res.status, 200, JSON.stringify(greeted.body));
    assert.deepEqual(greeted.body, { message: "Hello, alice! You're authenticated." });
  });
});

Deno.test("clients add refuses a client-credentials client named like an existing user", async () => {
  await using server = await startTestServer({ users: { user2: "user2-password-1" } });
  const added = await cli(server, [
    "clients",
    "add",
    "user2",
    "--grant",
    "client_credentials",
    "--scope",
    "hello",
  ]);
  assertRefused(added, /"user2"/);
  const listed = await cli(server, ["clients", "list"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.doesNotMatch(listed.stdout, /^user2 /m);
});

Deno.test("user add refuses the name of an existing client-credentials client", async () => {
  await using server = await startTestServer();
  const added = await cli(server, [
    "clients",
    "add",
    "reporting",
    "--grant",
    "client_credentials",
    "--scope",
    "hello",
  ]);
  assert.equal(added.code, 0, added.stderr);
  assertRefused(
    await cli(server, ["user", "add", "reporting"], "reporting-password-1\n"),
    /"reporting"/,
  );
  const users = await cli(server, ["user", "list"]);
  assert.equal(users.code, 0, users.stderr);
  assert.doesNotMatch(users.stdout, /^reporting$/m);
});

Deno.test("clients add and user add of one name at once: exactly one of them succeeds", async () => {
  await using server = await startTestServer();
  const outcomes: string[] = [];
  for (let round = 0; round < 3; round++) {
    const name = `both-${round}`;
    const [client, user] = await Promise.all([
      cli(server, ["clients", "add", name, "--grant", "client_credentials", "--scope", "hello"]),
      cli(server, ["user", "add", name], `${name}-password-1\n`),
    ]);
    outcomes.push(`${name}: clients add ${client.code}, user add ${user.code}`);
    for (const result of [client, user]) {
      assert.ok(result.code === 0 || result.code === 1, result.stderr);
    }
  }
  assert.deepEqual(
    outcomes.filter((outcome) => !/add 0, user add 1$|add 1, user add 0$/.test(outcome)),
    [],
    "one name, one kind",
  );
});

Deno.test("GET /hello never greets a client-credentials token as if its client were a user", async () => {
  await using server = await startTestServer();
  const added = await cli(server, [
    "clients",
    "add",
    "reporting",
    "--grant",
    "client_credentials",
    "--scope",
    "hello",
  ]);
  assert.equal(added.code, 0, added.stderr);
  const secret = /^client_secret: (\S+)$/m.exec(added.stdout)?.[1];
  assert.ok(secret, added.stdout);
  const { res, body } = await tokenRequest(server, { grant_type: "client_credentials" }, {
    id: "reporting",
    secret,
  });
  assert.equal(res.status, 200, JSON.stringify(body));
  const greeted = await hello(server, `Bearer ${body.access_token}`);
  assert.ok(greeted.res.status < 500, JSON.stringify(greeted.body));
  assert.notDeepEqual(greeted.body, { message: "Hello, reporting! You're authenticated." });
  assert.doesNotMatch(String(greeted.body.message ?? ""), /^Hello, reporting!/);
});
