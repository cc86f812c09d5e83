/**
 * Sign-in from browsers and other apps, for tests: registering clients in a test server's store,
 * a relying party's loopback callback, and a cookie-keeping fetch "browser" that walks the
 * authorization code flow through the real pages and forms over HTTPS.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeJwt, type JWTPayload } from "jose";
import { type ClientRegistration, newClientRecord } from "../../src/auth/clients/registration.ts";
import { codeChallengeOf } from "../../src/auth/sign_in/pkce.ts";
import { SESSION_COOKIE } from "../../src/http/cookies.ts";
import { basicAuthorization, postForm } from "./forms.ts";
import { startTestServer, type TestServer, type TestServerOptions } from "./server.ts";

/** Scopes the registrations here may ask for. */
const SCOPES = ["openid", "profile", "hello"];

/** A registered client and its secret (confidential clients only). */
export interface TestClient {
  clientId: string;
  secret?: string;
  redirectUri: string;
}

/** Registers a client in the server's store, as `clients add` does. */
export async function registerClient(
  server: TestServer,
  registration: Partial<ClientRegistration> & { clientId: string; redirectUris: string[] },
): Promise<TestClient> {
  const { record, secret } = await newClientRecord({
    postLogoutRedirectUris: [],
    public: true,
    firstParty: true,
    ...registration,
  }, SCOPES);
  await server.store.addClient(record);
  return { clientId: record.clientId, secret, redirectUri: registration.redirectUris[0] };
}

/**
 * Registers a confidential client "svc" without redirect URIs, for the client credentials grant
 * (`registration` adding or replacing), as a service that calls APIs registers.
 */
export function registerServiceClient(
  server: TestServer,
  registration: Partial<ClientRegistration> = {},
): Promise<TestClient> {
  return registerClient(server, {
    clientId: "svc",
    redirectUris: [],
    public: false,
    grantTypes: ["client_credentials"],
    ...registration,
  });
}

/**
 * Starts a test server (with `options`' users and environment) and registers the first-party
 * public client "app" that returns to {@linkcode REDIRECT_URI}.
 */
export async function startServerWithApp(
  options: TestServerOptions = {},
): Promise<{ server: TestServer; app: TestClient }> {
  const server = await startTestServer(options);
  const app = await registerClient(server, { clientId: "app", redirectUris: [REDIRECT_URI] });
  return { server, app };
}

/**
 * A relying party's side on loopback plain HTTP (as native apps use, RFC 8252): it records
 * every request and answers with a small page; `/frame` embeds a URL in an iframe.
 */
export class RelyingParty implements AsyncDisposable {
  readonly requests: URL[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #frameUrl = "";

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/frame") {
        return new Response(
          `<!doctype html><title>Framing</title><iframe id="victim" src="${this.#frameUrl}"></iframe>`,
          { headers: { "content-type": "text/html" } },
        );
      }
      this.requests.push(url);
      return new Response(`<!doctype html><title>RP</title><p>${url.pathname}</p>`, {
        headers: { "content-type": "text/html" },
      });
    });
  }

  /** The origin, such as `http://127.0.0.1:40123`. */
  get origin(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** The redirect URI of client `name`. */
  callback(name = "app"): string {
    return `${this.origin}/${name}/callback`;
  }

  /** Where the browser returns after signing out. */
  get signedOut(): string {
    return `${this.origin}/signed-out`;
  }

  /** A page of this origin that frames `url`. */
  framing(url: string): string {
    this.#frameUrl = url;
    return `${this.origin}/frame`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

/** A PKCE verifier with its S256 challenge. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
  return { verifier, challenge: await codeChallengeOf(verifier) };
}

/** Where a server is and a fetch client that trusts it: a TestServer or a `serve` child. */
export interface Reachable {
  url: string;
  client: Deno.HttpClient;
}

/** The authorization URL for a client, with PKCE S256 unless `params` says otherwise. */
export function authorizeUrl(
  server: { url: string },
  client: TestClient,
  params: Record<string, string | undefined>,
): string {
  const url = new URL(`${server.url}/authorize`);
  const all: Record<string, string | undefined> = {
    response_type: "code",
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: "openid profile",
    state: "state-1",
    nonce: "nonce-1",
    code_challenge_method: "S256",
    ...params,
  };
  for (const [name, value] of Object.entries(all)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.href;
}

/** The hidden fields of a page's form. */
export interface FormFields {
  request: string;
  csrf_token: string;
}

/** Reads the `request` and `csrf_token` fields of a page. */
export function formFields(html: string): FormFields {
  const field = (name: string) => {
    const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
    assert.ok(match, `The page has a "${name}" field: ${html}`);
    return match[1];
  };
  return { request: field("request"), csrf_token: field("csrf_token") };
}

/**
 * A fetch-based browser for one server: keeps cookies as a browser would (only what `Set-Cookie`
 * says) and never follows redirects, so tests see every hop.
 */
export class CookieBrowser {
  server: Reachable;
  /** Every cookie the server has set and not deleted, by name. */
  readonly cookies: Map<string, string> = new Map();
  /** Sent with every request, such as the `X-Forwarded-For` of a proxy in front. */
  headers: Record<string, string> = {};

  constructor(server: Reachable) {
    this.server = server;
  }

  /** The session cookie's value, as the server last set it. */
  get cookie(): string | undefined {
    return this.cookies.get(SESSION_COOKIE);
  }

  set cookie(value: string | undefined) {
    if (value === undefined) this.cookies.delete(SESSION_COOKIE);
    else this.cookies.set(SESSION_COOKIE, value);
  }

  /** GET a URL of the server. */
  async get(url: string): Promise<Response> {
    return this.#keep(
      await fetch(url, {
        client: this.server.client,
        redirect: "manual",
        headers: this.#headers(),
      }),
    );
  }

  /** POST a form to a path of the server. */
  async post(path: string, form: Record<string, string>): Promise<Response> {
    return this.#keep(
      await fetch(`${this.server.url}${path}`, {
        client: this.server.client,
        method: "POST",
        redirect: "manual",
        headers: { ...this.#headers(), "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form),
      }),
    );
  }

  /**
   * Opens `client`'s authorization URL with a fresh PKCE challenge and `params`, and expects the
   * sign-in page; returns its form fields.
   */
  async signInPageFor(
    client: TestClient,
    params: Record<string, string> = {},
  ): Promise<FormFields> {
    const { challenge } = await pkce();
    return this.signInPage(
      authorizeUrl(this.server, client, { code_challenge: challenge, ...params }),
    );
  }

  /** Opens an authorization URL and expects the sign-in page; returns its form fields. */
  async signInPage(url: string): Promise<FormFields> {
    const res = await this.get(url);
    const html = await res.text();
    assert.equal(res.status, 200, html);
    assert.match(html, /<h1>Sign in<\/h1>/);
    return formFields(html);
  }

  /** Posts the sign-in form. */
  signIn(fields: FormFields, username: string, password: string): Promise<Response> {
    return this.post("/sign-in", { ...fields, username, password });
  }

  #headers(): Record<string, string> {
    const cookies = [...this.cookies].map(([name, value]) => `${name}=${value}`);
    return cookies.length === 0 ? this.headers : { ...this.headers, cookie: cookies.join("; ") };
  }

  #keep(res: Response): Response {
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(";");
      const equals = pair.indexOf("=");
      const name = pair.slice(0, equals);
      const value = pair.slice(equals + 1);
      if (/Max-Age=0/i.test(header) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

/** The query of a redirect answer, which must be a 303 to `redirectUri`. */
export function redirectedTo(res: Response, redirectUri: string): URLSearchParams {
  assert.equal(res.status, 303, `a redirect, not ${res.status}`);
  const location = new URL(res.headers.get("location")!);
  assert.equal(`${location.origin}${location.pathname}`, redirectUri);
  return location.searchParams;
}

/** Posts to the token endpoint as a public client (or with `basic`). */
export function tokenRequest(
  server: Reachable,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
): Promise<{ res: Response; body: Record<string, unknown> }> {
  return postForm(server, "/oauth/token", form, basicHeaders(basic));
}

/** The headers of a request with a client's HTTP Basic authentication, if any. */
export function basicHeaders(basic?: { id: string; secret: string }): Record<string, string> {
  return basic ? { authorization: basicAuthorization(basic) } : {};
}

/**
 * Walks the whole code flow with a fresh (or the given) browser: authorization, sign-in (unless
 * the browser is signed in), and returns the code with the verifier that redeems it.
 */
export async function authorizationCode(
  server: Reachable,
  client: TestClient,
  options: {
    browser?: CookieBrowser;
    username?: string;
    password?: string;
    params?: Record<string, string | undefined>;
  } = {},
): Promise<{ code: string; verifier: string; browser: CookieBrowser }> {
  const browser = options.browser ?? new CookieBrowser(server);
  const { verifier, challenge } = await pkce();
  const url = authorizeUrl(server, client, { code_challenge: challenge, ...options.params });
  let res = await browser.get(url);
  if (res.status === 200) {
    const fields = formFields(await res.text());
    res = await browser.signIn(fields, options.username ?? "alice", options.password ?? PASSWORD);
  }
  const query = redirectedTo(res, client.redirectUri);
  const code = query.get("code");
  assert.ok(code, `a code, not ${query}`);
  return { code, verifier, browser };
}

/** The password of the test user "alice". */
export const PASSWORD = "alice-password-1";

/** The redirect URI the tests register for their app; nothing is served there. */
export const REDIRECT_URI = "https://app.example/callback";

/** Exchanges a code as a public client. */
export function redeem(
  server: Reachable,
  client: TestClient,
  code: string,
  verifier: string,
): Promise<{ res: Response; body: Record<string, unknown> }> {
  return tokenRequest(server, {
    grant_type: "authorization_code",
    code,
    redirect_uri: client.redirectUri,
    code_verifier: verifier,
    client_id: client.clientId,
  });
}

/** Redeems a code, which must be answered with tokens, and returns the ID token's claims. */
export async function redeemedIdToken(
  server: Reachable,
  client: TestClient,
  code: string,
  verifier: string,
): Promise<JWTPayload> {
  const { res, body } = await redeem(server, client, code, verifier);
  assert.equal(res.status, 200, JSON.stringify(body));
  return decodeJwt(body.id_token as string);
}

/** Redeems a code and returns the `preferred_username` GET /userinfo gives for its access token. */
export async function redeemedUser(
  server: Reachable,
  client: TestClient,
  code: string,
  verifier: string,
): Promise<string> {
  const { res, body } = await redeem(server, client, code, verifier);
  assert.equal(res.status, 200, JSON.stringify(body));
  const info = await fetch(`${server.url}/userinfo`, {
    client: server.client,
    headers: { authorization: `Bearer ${body.access_token}` },
  });
  assert.equal(info.status, 200);
  return (await info.json()).preferred_username;
}
