/**
 * @module
 * The second factor across two `serve` processes on one PostgreSQL database, with codes from
 * `oathtool`: a code accepted by one instance is refused by the other, also when both get it at
 * once, and guesses at both count on one throttle.
 */
import assert from "node:assert/strict";
import { startCluster } from "./helpers/cluster.ts";
import { authorizeUrl, CookieBrowser, formFields, pkce, redirectedTo } from "./helpers/oidc.ts";
import { POSTGRESQL } from "./helpers/postgres.ts";
import { OATHTOOL, testNeeding } from "./helpers/prerequisites.ts";
import { runCli, type ServerProcess } from "./helpers/process.ts";
import { nowSeconds, oathtoolCode } from "./helpers/second_factor.ts";

const REDIRECT_URI = "https://app.example/callback";
const PASSWORD = "alice-password-1";
/** Alice's authenticator secret, set up in the store before the test. */
const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

testNeeding([POSTGRESQL, OATHTOOL], {
  name:
    "PostgreSQL, two instances: a second-factor code accepted by one is refused by the other, also at once",
  async fn() {
    // The first wait after the free failures outlasts the guesses below, however slow the machine:
    // the default of 1 s could end mid-burst and let one guess more through, as it should.
    await using cluster = await startCluster("postgres", { alice: PASSWORD }, {
      THROTTLE_BASE_DELAY: "60",
    });
    const { a, b, client, store } = cluster;
    const added = await runCli([
      "clients",
      "add",
      "app",
      "--redirect-uri",
      REDIRECT_URI,
      "--scope",
      "openid hello",
      "--public",
      "--first-party",
    ], { cwd: cluster.dir, env: { DATABASE_URL: cluster.databaseUrl } });
    assert.equal(added.code, 0, added.stderr);
    const now = nowSeconds();
    assert.ok(await store.startTotpEnrolment("alice", SECRET, now));
    const setUpStep = Math.floor(now / 30) - 1;
    assert.ok(await store.acceptTotpStep("alice", SECRET, setUpStep, { confirming: true, now }));

    /** A browser at `server` that entered alice's password: the code page's form. */
    async function atCodePage(server: ServerProcess) {
      const browser = new CookieBrowser({ url: server.url, client });
      const url = authorizeUrl(browser.server, { clientId: "app", redirectUri: REDIRECT_URI }, {
        scope: "openid hello",
        code_challenge: (await pkce()).challenge,
      });
      const res = await browser.signIn(await browser.signInPage(url), "alice", PASSWORD);
      const html = await res.text();
      assert.equal(res.status, 200, html);
      assert.match(html, /<h1>Enter your code<\/h1>/);
      return (code: string) =>
        browser.post("/sign-in/second-factor", { ...formFields(html), code });
    }

    // At once: the same code at A and at B.
    const [atA, atB] = await Promise.all([atCodePage(a), atCodePage(b)]);
    const code = await oathtoolCode(SECRET, nowSeconds());
    const answers = await Promise.all([atA(code), atB(code)]);
    const statuses = answers.map((res) => res.status).sort();
    for (const res of answers) await res.body?.cancel();
    assert.deepEqual(statuses, [303, 400], "one instance accepts it, the other refuses it");

    // One after the other: the next step's code accepted at B, then refused at A.
    const next = await oathtoolCode(SECRET, nowSeconds() + 30);
    const [againA, againB] = await Promise.all([atCodePage(a), atCodePage(b)]);
    const accepted = await againB(next);
    redirectedTo(accepted, REDIRECT_URI);
    const replayed = await againA(next);
    assert.equal(replayed.status, 400);
    assert.match(await replayed.text(), /Invalid code/);

    // Guesses at both count on one budget: the replay above and four more are its five free
    // failures.
    const [guessA, guessB] = await Promise.all([atCodePage(a), atCodePage(b)]);
    const guesses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? guessA : guessB)(String(200000 + i))),
    );
    const refused = guesses.map((res) => res.status);
    for (const res of guesses) await res.body?.cancel();
    assert.ok(refused.filter((status) => status === 400).length <= 4, `${refused}`);
    assert.ok(refused.filter((status) => status === 429).length >= 6, `${refused}`);
    assert.ok(refused.every((status) => status === 400 || status === 429), `${refused}`);
  },
});
