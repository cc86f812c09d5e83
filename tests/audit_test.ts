/**
 * @module
 * The audit trail over real HTTPS and from the command line: logins, refreshes, reuse detection,
 * logouts, revocations, the sign-in page, replayed codes and browser sign-outs each write one audit
 * line naming subject, client, address and request id, the `user`, `keys` and `clients` commands
 * write theirs on stderr, the metrics count logins and refreshes, and no line ever holds a password
 * or secret.
 */
import assert from "node:assert/strict";
import { authorizationCode, CookieBrowser, redeem, registerClient } from "./helpers/oidc.ts";
import { runCli } from "./helpers/process.ts";
import { hello, login, refresh, startTestServer, type TestServer } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const USERS = { alice: "alice-password-1", bob: "bob-password-1" };
const RS_SECRET = "resource-server-secret-0123456789abcdef";
const SMALL_THROTTLE = { THROTTLE_FREE_FAILURES: "2", THROTTLE_BASE_DELAY: "60" };

type Line = Record<string, unknown>;

function audits(server: TestServer): Line[] {
  return server.logs.filter((line) => line.msg === "audit");
}

function only(server: TestServer, event: string): Line[] {
  return audits(server).filter((line) => line.event === event);
}

/** The request id the server answered `res` with. */
function requestId(res: Response): string {
  return res.headers.get("x-request-id")!;
}

/** Asserts that no raw log line holds any of `secrets`. */
function assertNoSecrets(server: TestServer, secrets: string[]): void {
  for (const line of server.rawLogs) {
    for (const secret of secrets) assert.ok(!line.includes(secret), `a secret in: ${line}`);
  }
}

/** The value of a sample in the metrics exposition, e.g. `auth_logins_total{outcome="success"}`. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split("\n").find((candidate) =>
    candidate.startsWith(`${name}{`) &&
    Object.entries(labels).every(([key, value]) => candidate.includes(`${key}="${value}"`))
  );
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

Deno.test("logins write audit lines naming subject, client, address and request id, and the metrics count them", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { ...SMALL_THROTTLE, METRICS_PORT: "0", LOG_LEVEL: "warn" },
  });
  const ok = await login(server, "alice", USERS.alice);
  assert.equal(ok.res.status, 200);
  const wrong = [];
  for (let i = 0; i < 3; i++) wrong.push(await login(server, "bob", `guess-${i}`));
  assert.deepEqual(wrong.map(({ res }) => res.status), [400, 400, 429]);

  const [succeeded] = only(server, "login_succeeded");
  assert.deepEqual(
    { ...succeeded, time: undefined },
    {
      time: undefined,
      level: "info",
      msg: "audit",
      event: "login_succeeded",
      subject: "alice",
      client: "auth-api",
      request_id: requestId(ok.res),
      client_address: "127.0.0.1",
    },
    "written although LOG_LEVEL=warn hides info lines",
  );
  const failed = only(server, "login_failed");
  assert.deepEqual(
    failed.map((line) => line.request_id),
    wrong.slice(0, 2).map(({ res }) => requestId(res)),
  );
  assert.ok(failed.every((line) => line.subject === "bob"));
  const entered = only(server, "throttle_entered");
  assert.deepEqual(entered.map((line) => line.reason), ["account"]);
  assert.equal(entered[0].request_id, requestId(wrong[1].res));
  const [throttled] = only(server, "login_throttled");
  assert.equal(throttled.request_id, requestId(wrong[2].res));
  assertNoSecrets(server, [USERS.alice, "guess-0", "guess-1", ok.body.access_token as string]);

  const metrics = await (await fetch(server.running.metricsUrl!)).text();
  assert.equal(sample(metrics, "auth_logins_total", { outcome: "success" }), 1);
  assert.equal(sample(metrics, "auth_logins_total", { outcome: "invalid" }), 2);
  assert.equal(sample(metrics, "auth_logins_total", { outcome: "throttled" }), 1);
  assert.equal(sample(metrics, "auth_throttle_entries_total", { reason: "account" }), 1);
});

Deno.test("refresh, reuse detection, logout and revocation write audit lines, and the metrics count refreshes", async () => {
  await using server = await startTestServer({
    users: USERS,
    env: { METRICS_PORT: "0", OAUTH_CLIENTS: `rs:${RS_SECRET}` },
  });
  const first = await login(server, "alice", USERS.alice);
  const rotated = await refresh(server, first.body.refresh_token as string);
  assert.equal(rotated.res.status, 200);
  const replay = await refresh(server, first.body.refresh_token as string);
  assert.equal(replay.res.status, 400);

  const [refreshed] = only(server, "token_refreshed");
  assert.equal(refreshed.subject, "alice");
  assert.equal(refreshed.request_id, requestId(rotated.res));
  assert.equal(typeof refreshed.session, "string");
  const [reused] = only(server, "refresh_reuse_detected");
  assert.equal(reused.session, refreshed.session);
  assert.equal(reused.request_id, requestId(replay.res));

  const second = await login(server, "alice", USERS.alice);
  const logout = await fetch(`${server.url}/logout`, {
    method: "POST",
    client: server.client,
    headers: { authorization: `Bearer ${second.body.access_token}` },
  });
  await logout.body?.cancel();
  assert.equal(logout.status, 200);
  const [loggedOut] = only(server, "logout");
  assert.equal(loggedOut.subject, "alice");
  assert.equal(loggedOut.request_id, requestId(logout));

  const third = await login(server, "alice", USERS.alice);
  const revoke = await fetch(`${server.url}/oauth/revoke`, {
    method: "POST",
    client: server.client,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: third.body.refresh_token as string }),
  });
  await revoke.body?.cancel();
  assert.equal(revoke.status, 200);
  const [revoked] = only(server, "token_revoked");
  assert.deepEqual([revoked.subject, revoked.reason], ["alice", "refresh_token"]);
  assert.equal((await hello(server, `Bearer ${third.body.access_token}`)).res.status, 401);

  assertNoSecrets(server, [
    first.body.refresh_token as string,
    rotated.body.refresh_token as string,
    second.body.access_token as string,
    third.body.refresh_token as string,
  ]);
  const metrics = await (await fetch(server.running.metricsUrl!)).text();
  assert.equal(sample(metrics, "auth_refreshes_total", { outcome: "rotated" }), 1);
  assert.equal(sample(metrics, "auth_refreshes_total", { outcome: "reuse_detected" }), 1);
});

Deno.test("the user and keys commands (keys revoke too) write their audit lines on stderr, never the password", async () => {
  await withTempDir(async (dir) => {
    // The default layout the user and keys tasks may write: data/ in their working directory.
    const env = { DATABASE_URL: `sqlite:${dir}/data/auth.db` };
    const password = "a-long-password-1";
    const steps: [string[], string, string | undefined][] = [
      [["user", "add", "carol"], "user_added", `${password}\n`],
      [["user", "passwd", "carol"], "password_changed", `${password}-2\n`],
      [["user", "logout", "carol"], "user_logged_out", undefined],
      [["user", "remove", "carol"], "user_removed", undefined],
      [["keys", "rotate"], "key_rotated", undefined],
    ];
    for (const [args, event, stdin] of steps) {
      const result = await runCli(args, { cwd: dir, env, stdin });
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stderr.trim().split("\n").map((line) => JSON.parse(line));
      assert.equal(lines.length, 1, result.stderr);
      assert.equal(lines[0].msg, "audit");
      assert.equal(lines[0].event, event);
      if (args[0] === "user") assert.equal(lines[0].subject, "carol");
      else assert.match(lines[0].kid, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(!result.stderr.includes(password) && !result.stdout.includes(password));
    }
    const listed = await runCli(["keys", "list"], { cwd: dir, env });
    const current = /^(\S+) .* current$/m.exec(listed.stdout)?.[1];
    assert.ok(current, listed.stdout);
    const revoked = await runCli(["keys", "revoke", current], { cwd: dir, env });
    assert.equal(revoked.code, 0, revoked.stderr);
    const lines = revoked.stderr.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => [line.msg, line.event, line.kid]), [
      ["audit", "key_revoked", current],
    ]);
  });
});

Deno.test("the sign-in page, a replayed code and a browser's sign-out write audit lines", async () => {
  await using server = await startTestServer({ users: USERS });
  const app = await registerClient(server, {
    clientId: "app",
    redirectUris: ["https://app.example/callback"],
  });
  const browser = new CookieBrowser(server);
  const fields = await browser.signInPageFor(app);
  const failed = await browser.signIn(fields, "alice", "guess-1");
  await failed.body?.cancel();
  assert.equal(failed.status, 400);
  const { code, verifier } = await authorizationCode(server, app, {
    browser,
    password: USERS.alice,
  });
  const first = await redeem(server, app, code, verifier);
  assert.equal(first.res.status, 200);
  const replay = await redeem(server, app, code, verifier);
  assert.equal(replay.res.status, 400);
  const signOut = await browser.get(
    `${server.url}/end-session?id_token_hint=${first.body.id_token}`,
  );
  await signOut.body?.cancel();
  assert.equal(signOut.status, 200);

  const [loginFailed] = only(server, "login_failed");
  assert.deepEqual([loginFailed.subject, loginFailed.client], ["alice", "app"]);
  assert.equal(loginFailed.request_id, requestId(failed));
  const [succeeded] = only(server, "login_succeeded");
  assert.deepEqual([succeeded.subject, succeeded.client], ["alice", "app"]);
  const [reused] = only(server, "code_reuse_detected");
  assert.deepEqual([reused.subject, reused.client], ["alice", "app"]);
  assert.equal(reused.request_id, requestId(replay.res));
  assert.equal(typeof reused.session, "string", "the session the code started, now revoked");
  const [signedOut] = only(server, "browser_signed_out");
  assert.deepEqual([signedOut.subject, signedOut.client], ["alice", "app"]);
  assert.equal(signedOut.request_id, requestId(signOut));
  assertNoSecrets(
    server,
    [
      USERS.alice,
      "guess-1",
      code,
      browser.cookie ?? "",
      first.body.access_token as string,
      first.body.refresh_token as string,
    ].filter(Boolean),
  );
});

Deno.test("the clients command writes its audit lines on stderr, never the secret", async () => {
  await withTempDir(async (dir) => {
    const env = { DATABASE_URL: `sqlite:${dir}/data/auth.db` };
    const steps: [string[], string][] = [
      [["clients", "add", "web", "--redirect-uri", "https://web.example/cb"], "client_registered"],
      [["clients", "rotate-secret", "web"], "client_secret_rotated"],
      [["clients", "remove", "web"], "client_removed"],
    ];
    for (const [args, event] of steps) {
      const result = await runCli(args, { cwd: dir, env });
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stderr.trim().split("\n").map((line) => JSON.parse(line));
      assert.equal(lines.length, 1, result.stderr);
      assert.deepEqual([lines[0].msg, lines[0].event, lines[0].client], ["audit", event, "web"]);
      const secret = /^client_secret: (\S+)$/m.exec(result.stdout)?.[1];
      if (secret) assert.ok(!result.stderr.includes(secret));
    }
  });
});
