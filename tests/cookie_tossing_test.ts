/**
 * @module
 * Cookie tossing over HTTPS: a cookie that another origin of the same host (plain HTTP, another
 * port) or a sibling subdomain can set must never stand in for the `__Host-` session cookie,
 * neither by smuggling `,__Host-auth-session=…` into its value nor by repeating the name. Raw
 * headers through fetch, split HTTP/2 cookie fields through curl, and a tossed cookie in Chromium.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SESSION_COOKIE } from "../src/http/cookies.ts";
import type { Page } from "puppeteer-core";
import { launchBrowser } from "./helpers/browser.ts";
import {
  authorizationCode,
  authorizeUrl,
  CookieBrowser,
  PASSWORD,
  pkce,
  redeemedUser,
  REDIRECT_URI,
  redirectedTo,
  registerClient,
  RelyingParty,
  type TestClient,
} from "./helpers/oidc.ts";
import { CHROMIUM, CURL, testNeeding } from "./helpers/prerequisites.ts";
import { runProgram } from "./helpers/process.ts";
import { startTestServer, type TestServer } from "./helpers/server.ts";

const USERS = { alice: PASSWORD, mallory: "mallory-password-1" };

/** A server with alice (the victim) and mallory (the attacker), each with a browser session. */
async function setUp(): Promise<
  { server: TestServer; app: TestClient; victim: string; attacker: string }
> {
  const server = await startTestServer({ users: USERS });
  const app = await registerClient(server, { clientId: "app", redirectUris: [REDIRECT_URI] });
  const signedIn = async (username: string) => {
    const { browser } = await authorizationCode(server, app, {
      username,
      password: USERS[username as keyof typeof USERS],
    });
    assert.ok(browser.cookie);
    return browser.cookie;
  };
  return { server, app, victim: await signedIn("alice"), attacker: await signedIn("mallory") };
}

/** GET /authorize with exactly `cookie` as the Cookie header; the user a code went to, or the page. */
async function authorizeWith(
  server: TestServer,
  app: TestClient,
  cookie: string,
): Promise<{ user?: string; page?: string; setCookies: string[] }> {
  const { verifier, challenge } = await pkce();
  const res = await fetch(authorizeUrl(server, app, { code_challenge: challenge }), {
    client: server.client,
    redirect: "manual",
    headers: { cookie },
  });
  const setCookies = res.headers.getSetCookie();
  if (res.status === 200) return { page: await res.text(), setCookies };
  await res.body?.cancel();
  const code = redirectedTo(res, REDIRECT_URI).get("code");
  assert.ok(code);
  return { user: await redeemedUser(server, app, code, verifier), setCookies };
}

function assertSignInPage(answer: { user?: string; page?: string }, why: string): void {
  assert.equal(answer.user, undefined, `${why}: no code for anyone`);
  assert.match(answer.page ?? "", /<h1>Sign in<\/h1>/, why);
}

Deno.test("a cookie smuggling ,__Host-auth-session= in its value never becomes the session: /authorize signs in by the real cookie or asks", async () => {
  const { server, app, victim, attacker } = await setUp();
  await using _ = server;
  assert.equal((await authorizeWith(server, app, `${SESSION_COOKIE}=${victim}`)).user, "alice");

  // Tossed first (a longer Path sorts first in browsers), then the victim's own cookie.
  const tossed = await authorizeWith(
    server,
    app,
    `x=a,${SESSION_COOKIE}=${attacker}; ${SESSION_COOKIE}=${victim}`,
  );
  assert.equal(tossed.user, "alice", "the code is the victim's own, never the attacker's");
  assert.equal(
    (await authorizeWith(
      server,
      app,
      `x=a, ${SESSION_COOKIE}=${attacker}; ${SESSION_COOKIE}=${victim}`,
    ))
      .user,
    "alice",
  );

  // A victim who is not signed in gets the sign-in page under a new binding (no login CSRF).
  const signedOut = await authorizeWith(server, app, `x=a,${SESSION_COOKIE}=${attacker}`);
  assertSignInPage(signedOut, "only the tossed cookie");
  assert.equal(signedOut.setCookies.length, 1);
  assert.ok(
    !signedOut.setCookies[0].includes(attacker),
    "the page never binds to the tossed value",
  );
});

Deno.test("a session cookie named twice is trusted in neither copy: /authorize asks, and a form posted with both is refused", async () => {
  const { server, app, victim, attacker } = await setUp();
  await using _ = server;
  for (
    const cookie of [
      `${SESSION_COOKIE}=${attacker}; ${SESSION_COOKIE}=${victim}`,
      `${SESSION_COOKIE}=${victim}; ${SESSION_COOKIE}=${attacker}`,
      `${SESSION_COOKIE}=${victim}; a=1; ${SESSION_COOKIE}=${victim}`,
    ]
  ) {
    assertSignInPage(await authorizeWith(server, app, cookie), cookie.replaceAll(/=\S{43}/g, "=…"));
  }

  // A sign-in form shown to the victim's browser, posted with a second copy of the cookie.
  const browser = new CookieBrowser(server);
  browser.cookie = victim;
  const url = authorizeUrl(server, app, {
    code_challenge: (await pkce()).challenge,
    prompt: "login",
  });
  const fields = await browser.signInPage(url);
  const res = await fetch(`${server.url}/sign-in`, {
    client: server.client,
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: `${SESSION_COOKIE}=${attacker}; ${SESSION_COOKIE}=${victim}`,
    },
    body: new URLSearchParams({ ...fields, username: "mallory", password: USERS.mallory }),
  });
  const html = await res.text();
  assert.equal(res.status, 403, html);
  assert.match(html, /no session cookie/);
  assert.deepEqual(res.headers.getSetCookie(), [], "no session was started");
});

testNeeding(
  [CURL],
  "HTTP/2 cookie fields sent separately are read as one list: the session is found, a comma still smuggles nothing, and a repeat across fields is refused",
  async () => {
    const { server, app, victim, attacker } = await setUp();
    await using _ = server;
    const caFile = join(server.dir, "trusted-cert.pem");
    await Deno.writeTextFile(caFile, server.certPem);
    /** GET /authorize over HTTP/2 with one cookie field per entry of `fields`. */
    const viaCurl = async (fields: string[]) => {
      const { verifier, challenge } = await pkce();
      const args = ["-sS", "--http2", "--cacert", caFile, "-o", "/dev/null"];
      args.push("-w", "%{http_version} %{http_code} %{redirect_url}");
      for (const field of fields) args.push("-H", `cookie: ${field}`);
      args.push(authorizeUrl(server, app, { code_challenge: challenge }));
      const output = await runProgram("curl", args);
      assert.equal(output.code, 0, output.stderr);
      const [version, status, location] = output.stdout.split(" ");
      assert.equal(version, "2");
      if (status === "200") return "sign-in page";
      assert.equal(status, "303");
      const code = new URL(location).searchParams.get("code");
      assert.ok(code, location);
      return await redeemedUser(server, app, code, verifier);
    };
    assert.equal(await viaCurl(["a=1", `${SESSION_COOKIE}=${victim}`]), "alice");
    assert.equal(
      await viaCurl([`x=a,${SESSION_COOKIE}=${attacker}`, `${SESSION_COOKIE}=${victim}`]),
      "alice",
    );
    assert.equal(await viaCurl([`x=a,${SESSION_COOKIE}=${attacker}`]), "sign-in page");
    assert.equal(
      await viaCurl([`${SESSION_COOKIE}=${attacker}`, `${SESSION_COOKIE}=${victim}`]),
      "sign-in page",
    );
  },
);

/** A page on plain HTTP at the same host name as the service, which tosses `setCookie`. */
function tossingPage(setCookie: () => string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "localhost", port: 0, onListen() {} },
    () =>
      new Response("<!doctype html><title>Elsewhere</title><p>Hello", {
        headers: { "content-type": "text/html", "set-cookie": setCookie() },
      }),
  );
}

testNeeding([CHROMIUM], {
  name:
    "Chromium with a cookie tossed over plain HTTP on the same host: a signed-in victim gets a code for their own account, a signed-out one the sign-in page",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using server = await startTestServer({ users: USERS });
    await using rp = new RelyingParty();
    const app = await registerClient(server, { clientId: "app", redirectUris: [rp.callback()] });
    const { browser: mallorys } = await authorizationCode(server, app, {
      username: "mallory",
      password: USERS.mallory,
    });
    const tossed = `x=a,${SESSION_COOKIE}=${mallorys.cookie}; Path=/authorize`;
    const tosser = tossingPage(() => tossed);
    try {
      await using chromium = await launchBrowser(server.certPem);
      /** Opens /authorize in `page`; the user a code went to, or undefined for the sign-in page. */
      const authorize = async (page: Page) => {
        const { verifier, challenge } = await pkce();
        await page.goto(authorizeUrl(server, app, { code_challenge: challenge }), {
          waitUntil: "load",
        });
        const url = new URL(page.url());
        if (url.origin === server.url) {
          assert.match(await page.content(), /<h1>Sign in<\/h1>/);
          return undefined;
        }
        const code = url.searchParams.get("code");
        assert.ok(code, page.url());
        return await redeemedUser(server, app, code, verifier);
      };
      /** Visits the tossing page in `page`'s browser. */
      const toss = async (page: Page) => {
        await page.goto(`http://localhost:${tosser.addr.port}/`, { waitUntil: "load" });
        const cookies = await page.browserContext().cookies();
        assert.ok(
          cookies.some((cookie) => cookie.name === "x"),
          "Chromium keeps the tossed cookie",
        );
      };

      // Signed in, then tossed (its longer Path sorts it first): the code is still alice's.
      const victim = await chromium.browser.newPage();
      assert.equal(await authorize(victim), undefined);
      await victim.locator("#username").fill("alice");
      await victim.locator("#password").fill(PASSWORD);
      await Promise.all([victim.waitForNavigation({ waitUntil: "load" }), victim.click("button")]);
      assert.equal(new URL(victim.url()).origin, rp.origin);
      await toss(victim);
      assert.equal(await authorize(victim), "alice");

      // Signed out (a fresh profile): the tossed cookie alone must not sign anyone in as mallory.
      const fresh = await (await chromium.browser.createBrowserContext()).newPage();
      await toss(fresh);
      assert.equal(await authorize(fresh), undefined);
    } finally {
      await tosser.shutdown();
    }
  },
});
