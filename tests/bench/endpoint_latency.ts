/**
 * Part (j) of the benchmark: p50 and p99 latency of each endpoint a relying party or an API
 * client calls, one request at a time on one kept-alive HTTPS connection (see kept_alive.ts):
 * discovery, JWKS, the sign-in page of `/authorize`, `/authorize` for a signed-in browser (the
 * redirect with a code), the code exchange, userinfo, `/hello`, `/refresh` and `/login`. The
 * connection's first request (discovery) is a row of its own.
 *
 * @module
 */
import { newClientRecord } from "../../src/auth/clients/registration.ts";
import { MAX_PENDING_SIGN_INS_PER_ADDRESS } from "../../src/auth/sign_in/pending_requests.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { authorizeUrl, CookieBrowser, formFields, pkce, type TestClient } from "../helpers/oidc.ts";
import type { Fixture } from "./fixture.ts";
import { KeptAliveConnection, type TimedAnswer } from "./kept_alive.ts";
import { renderTable } from "./table.ts";

/** One endpoint's figures. */
export interface EndpointLatency {
  endpoint: string;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  bodyBytes: number;
  /** `content-length` or `chunked`. */
  framing: string;
}

/** Settings of part (j). */
export interface EndpointLatencyOptions {
  /** Requests per endpoint (logins: at most 10, each costs a password hash). */
  samples: number;
  signal?: AbortSignal;
}

const APP: TestClient = { clientId: "bench-app", redirectUri: "https://app.example/callback" };
const LOGIN_SAMPLES = 10;
/** Each sign-in page stays pending: leave room under the per-address cap for the browser's own. */
const SIGN_IN_PAGE_SAMPLES = MAX_PENDING_SIGN_INS_PER_ADDRESS - 1;

/**
 * Registers a first-party public client in the fixture's database (the server at `origin` reads
 * it), then times every endpoint on one connection.
 */
export async function measureEndpointLatency(
  origin: string,
  fixture: Fixture,
  options: EndpointLatencyOptions,
): Promise<EndpointLatency[]> {
  const { samples, signal } = options;
  await registerApp(fixture);
  const conn = await KeptAliveConnection.open(origin, fixture.certPem);
  try {
    const results: EndpointLatency[] = [];
    const time = async (
      endpoint: string,
      count: number,
      send: () => Promise<TimedAnswer>,
      expected: number,
    ): Promise<TimedAnswer> => {
      const answers: TimedAnswer[] = [];
      for (let i = 0; i < count; i++) {
        signal?.throwIfAborted();
        const answer = await send();
        if (answer.status !== expected) {
          throw new Error(`${endpoint} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
        }
        answers.push(answer);
      }
      results.push(summarize(endpoint, answers));
      return answers.at(-1)!;
    };
    const json = { "content-type": "application/json" };
    const form = { "content-type": "application/x-www-form-urlencoded" };

    // The connection's first answer may wait ~40 ms behind the TLS 1.3 session tickets (see
    // src/http/README.md): reported on its own row, so that discovery's p99 is not the handshake's.
    await time(
      "GET discovery, first on the connection",
      1,
      () => conn.request("GET", "/.well-known/openid-configuration"),
      200,
    );
    await time(
      "GET discovery",
      samples,
      () => conn.request("GET", "/.well-known/openid-configuration"),
      200,
    );
    await time("GET JWKS", samples, () => conn.request("GET", "/.well-known/jwks.json"), 200);
    const credentials = JSON.stringify({ username: fixture.username, password: fixture.password });
    const login = JSON.parse(
      (await time(
        "POST /login",
        Math.min(samples, LOGIN_SAMPLES),
        () => conn.request("POST", "/login", { headers: json, body: credentials }),
        200,
      )).body,
    );
    const bearer = { authorization: `Bearer ${login.access_token}` };
    await time(
      "GET /hello",
      samples,
      () => conn.request("GET", "/hello", { headers: bearer }),
      200,
    );
    let refreshToken = login.refresh_token as string;
    await time("POST /refresh", samples, async () => {
      const answer = await conn.request("POST", "/refresh", {
        headers: json,
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      if (answer.status === 200) refreshToken = JSON.parse(answer.body).refresh_token;
      return answer;
    }, 200);

    const { verifier, challenge } = await pkce();
    const url = new URL(authorizeUrl({ url: origin }, APP, { code_challenge: challenge }));
    const path = `${url.pathname}${url.search}`;
    await time(
      "GET /authorize (sign-in page)",
      Math.min(samples, SIGN_IN_PAGE_SAMPLES),
      () => conn.request("GET", path),
      200,
    );
    const browser = new CookieBrowser({ url: origin, client: fixture.client });
    const page = await browser.get(url.href);
    const signedIn = await browser.signIn(
      formFields(await page.text()),
      fixture.username,
      fixture.password,
    );
    await signedIn.body?.cancel();
    const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    let code = "";
    let exchanged: Record<string, string> = {};
    const exchanges: TimedAnswer[] = [];
    await time("GET /authorize (signed in: redirect)", samples, async () => {
      const answer = await conn.request("GET", path, { headers: { cookie } });
      code = new URL(answer.headers.get("location") ?? "", origin).searchParams.get("code") ?? "";
      const exchange = await conn.request("POST", "/oauth/token", {
        headers: form,
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: APP.redirectUri,
          code_verifier: verifier,
          client_id: APP.clientId,
        }).toString(),
      });
      if (exchange.status !== 200) {
        throw new Error(`The code exchange answered ${exchange.status}: ${exchange.body}`);
      }
      exchanges.push(exchange);
      exchanged = JSON.parse(exchange.body);
      return answer;
    }, 303);
    results.push(summarize("POST /oauth/token (code exchange)", exchanges));
    await time("GET /userinfo", samples, () =>
      conn.request("GET", "/userinfo", {
        headers: { authorization: `Bearer ${exchanged.access_token}` },
      }), 200);
    return results;
  } finally {
    conn.close();
  }
}

/** Renders part (j) as one table. */
export function renderEndpointLatency(results: EndpointLatency[]): string {
  return [
    "(j) One request at a time on one kept-alive HTTPS/1.1 connection, delayed ACKs on",
    renderTable(
      ["endpoint", "samples", "p50 ms", "p99 ms", "max ms", "bytes", "framing"],
      results.map((result) => [
        result.endpoint,
        String(result.samples),
        result.p50Ms.toFixed(2),
        result.p99Ms.toFixed(2),
        result.maxMs.toFixed(2),
        String(result.bodyBytes),
        result.framing,
      ]),
      ["left", "right", "right", "right", "right", "right", "left"],
    ),
  ].join("\n");
}

function summarize(endpoint: string, answers: TimedAnswer[]): EndpointLatency {
  const times = answers.map((answer) => answer.ms).sort((a, b) => a - b);
  const rank = (p: number) => times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)];
  const last = answers.at(-1)!;
  return {
    endpoint,
    samples: times.length,
    p50Ms: rank(0.5),
    p99Ms: rank(0.99),
    maxMs: times.at(-1)!,
    bodyBytes: new TextEncoder().encode(last.body).length,
    framing: last.headers.get("transfer-encoding") === "chunked" ? "chunked" : "content-length",
  };
}

async function registerApp(fixture: Fixture): Promise<void> {
  const store = await SqliteStore.open(fixture.databaseUrl.replace(/^sqlite:/, ""));
  try {
    if (await store.getClient(APP.clientId)) return;
    const { record } = await newClientRecord({
      clientId: APP.clientId,
      name: "Bench App",
      redirectUris: [APP.redirectUri],
      postLogoutRedirectUris: [],
      public: true,
      firstParty: true,
      scope: "openid profile hello",
    }, ["openid", "profile", "hello"]);
    await store.addClient(record);
  } finally {
    await store.close();
  }
}
