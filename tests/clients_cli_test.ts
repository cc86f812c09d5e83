/**
 * @module
 * `clients add|list|remove|rotate-secret` run as the CLI: what a registration may say, the
 * secret printed once and stored only as a hash, and a running server using the registration.
 */
import assert from "node:assert/strict";
import { sha256Hex } from "../src/auth/secrets.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { addClient, secretOf } from "./helpers/clients_cli.ts";
import { assertOneLineError, assertUsageError, type CliResult, runCli } from "./helpers/process.ts";
import { startTestServer } from "./helpers/server.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

async function withDatabase(
  fn: (run: (args: string[]) => Promise<CliResult>, dir: string) => Promise<void>,
) {
  await withTempDir(async (dir) => {
    const env = {
      DATABASE_URL: `sqlite:${dir}/data/auth.db`,
      OAUTH_CLIENTS: `introspector:${"s".repeat(32)}`,
    };
    await fn((args) => runCli(["clients", ...args], { cwd: dir, env }), dir);
  });
}

Deno.test("clients add registers public and confidential clients; the secret is printed once and stored only as SHA-256", async () => {
  await withDatabase(async (run, dir) => {
    const spa = await run([
      "add",
      "spa",
      "--redirect-uri",
      "https://spa.example/callback",
      "--redirect-uri",
      "http://127.0.0.1:8080/callback",
      "--post-logout-redirect-uri",
      "https://spa.example/",
      "--public",
      "--first-party",
      "--name",
      "Single-page app",
    ]);
    assert.equal(spa.code, 0, spa.stderr);
    assert.match(spa.stdout, /^Added public client "spa"$/m);
    assert.doesNotMatch(spa.stdout, /client_secret/);

    const web = await run([
      "add",
      "grafana",
      "--redirect-uri",
      "https://grafana.example/login/generic_oauth",
      "--scope",
      "openid profile",
      "--grant",
      "authorization_code,refresh_token",
      "--grant",
      "client_credentials",
    ]);
    assert.equal(web.code, 0, web.stderr);
    assert.match(web.stdout, /^Added confidential client "grafana"$/m);
    const secret = secretOf(web);

    const store = await SqliteStore.open(`${dir}/data/auth.db`);
    try {
      assert.deepEqual(await store.getClient("spa"), {
        ...(await store.getClient("spa"))!,
        name: "Single-page app",
        secretHash: null,
        redirectUris: ["https://spa.example/callback", "http://127.0.0.1:8080/callback"],
        postLogoutRedirectUris: ["https://spa.example/"],
        firstParty: true,
        scope: "hello openid profile",
        grantTypes: ["authorization_code", "refresh_token"],
      });
      const grafana = (await store.getClient("grafana"))!;
      assert.equal(grafana.secretHash, await sha256Hex(secret));
      assert.equal(grafana.firstParty, false);
      assert.equal(grafana.scope, "openid profile");
      assert.deepEqual(grafana.grantTypes, [
        "authorization_code",
        "refresh_token",
        "client_credentials",
      ]);
    } finally {
      await store.close();
    }
    const database = await Deno.readFile(`${dir}/data/auth.db`);
    assert.ok(
      !new TextDecoder("latin1").decode(database).includes(secret),
      "never stored in clear",
    );

    const listed = await run(["list"]);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(
      lines[0],
      /^grafana {2}confidential {2}third-party {2}grants=authorization_code,refresh_token,client_credentials/,
    );
    // --name is shown, as JSON text, only for the client registered with one.
    assert.match(lines[1], /^spa {2}name="Single-page app" {2}public {2}first-party /);
    assert.doesNotMatch(lines[0], /name=/);
    assert.ok(!listed.stdout.includes(secret));
  });
});

Deno.test("clients rotate-secret replaces the secret; remove forgets the client", async () => {
  await withDatabase(async (run) => {
    const added = await run(["add", "web", "--redirect-uri", "https://web.example/cb"]);
    const first = secretOf(added);
    const rotated = await run(["rotate-secret", "web"]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const second = secretOf(rotated);
    assert.notEqual(second, first);
    await run(["add", "spa", "--redirect-uri", "https://spa.example/cb", "--public"]);
    assertOneLineError(await run(["rotate-secret", "spa"]), /"spa" is public: it has no secret/);
    assertOneLineError(await run(["rotate-secret", "nobody"]), /"nobody" does not exist/);
    const removed = await run(["remove", "web"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /Removed client "web"/);
    assertOneLineError(await run(["remove", "web"]), /"web" does not exist/);
    assert.doesNotMatch((await run(["list"])).stdout, /^web /m);
  });
});

Deno.test("clients add refuses what must not be registered, each with one line", async () => {
  await withDatabase(async (run) => {
    const cases: [string[], RegExp][] = [
      [["add", "a", "--redirect-uri", "http://app.example/cb"], /must use https/],
      [["add", "a", "--redirect-uri", "https://app.example/cb#x"], /must not have a fragment/],
      [["add", "a", "--redirect-uri", "https://user@app.example/cb"], /must not have user info/],
      [["add", "a", "--redirect-uri", "javascript:alert(1)"], /reverse-domain scheme/],
      [["add", "a", "--redirect-uri", "/relative"], /not an absolute URI/],
      [["add", "a"], /needs at least one --redirect-uri/],
      [
        ["add", "a", "--public", "--grant", "client_credentials"],
        /public client cannot use client_credentials/,
      ],
      [
        ["add", "a", "--redirect-uri", "https://a.example/", "--grant", "implicit"],
        /Unknown grant type "implicit"/,
      ],
      [
        ["add", "a", "--redirect-uri", "https://a.example/", "--scope", "admin"],
        /Scope "admin" is not supported/,
      ],
      [["add", "has space", "--redirect-uri", "https://a.example/"], /Client id must be/],
      [
        ["add", "introspector", "--redirect-uri", "https://a.example/"],
        /taken by the configuration/,
      ],
      [["add", "auth-api", "--redirect-uri", "https://a.example/"], /taken by the configuration/],
    ];
    for (const [args, pattern] of cases) assertOneLineError(await run(args), pattern);
    const usage: [string[], RegExp, string][] = [
      [
        ["add", "a", "--redirect-uri", "https://a.example/", "--bogus"],
        /Unknown option "--bogus"/,
        "clients add ID [options]",
      ],
      [["add", "--public"], /Missing ID/, "clients add ID [options]"],
      [["frobnicate"], /Unknown command "frobnicate"/, "clients COMMAND [ARGUMENTS]"],
      [["list", "extra"], /Unexpected argument "extra"/, "clients list"],
      [["remove"], /Missing ID/, "clients remove ID"],
    ];
    for (const [args, pattern, synopsis] of usage) {
      const line = assertUsageError(await run(args), pattern);
      assert.equal(line, `Usage: deno task ${synopsis} (--help for more)`);
    }
    assert.equal((await run(["list"])).stdout, "", "nothing was registered");
    const first = await run(["add", "a", "--redirect-uri", "https://a.example/"]);
    assert.equal(first.code, 0, first.stderr);
    assertOneLineError(
      await run(["add", "a", "--redirect-uri", "https://a.example/"]),
      /Client "a" already exists/,
    );
  });
});

Deno.test("a client registered with the CLI is used by a running server at once", async () => {
  await using server = await startTestServer();
  const added = await addClient(server, "reporting", {
    grants: ["client_credentials"],
    scope: "hello",
  });
  const secret = secretOf(added);
  const res = await fetch(`${server.url}/oauth/token`, {
    client: server.client,
    method: "POST",
    headers: { authorization: `Basic ${btoa(`reporting:${secret}`)}` },
    body: new URLSearchParams({ grant_type: "client_credentials" }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.scope, "hello");
});
