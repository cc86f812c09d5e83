/**
 * @module
 * The tutorial's client, on fetch: logs in, calls /hello, and optionally refreshes and logs out.
 * The password comes from API_PASSWORD, a hidden prompt or stdin, never from the command line;
 * it is sent only over HTTPS with verification on (plain HTTP only to this machine). With
 * `--device` it signs in as a device instead (RFC 8628): it shows a code for a person to enter in
 * a browser and polls until they approve, and never sees a password.
 */
import { isIP } from "node:net";
import { readPassword } from "./terminal.ts";
import { type CommandSpec, parseCommandLine, runProgram } from "./usage.ts";

/** Where the client connects when neither --url nor API_URL says. */
const DEFAULT_URL = "https://localhost:8443";
/** The user it logs in as without --user. */
const DEFAULT_USER = "user1";
/** The certificate it trusts without --ca. */
const DEFAULT_CA = "certs/cert.pem";
/** The scope a device asks for without --scope: what /hello needs. */
const DEFAULT_DEVICE_SCOPE = "hello";
/** The device authorization grant's type (RFC 8628 §3.4). */
const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** How much a device slows down when told `slow_down` (RFC 8628 §3.5). */
const SLOW_DOWN_STEP_SECONDS = 5;

/** The client's command line, from which its parser and help are made. */
export const CLIENT_COMMAND: CommandSpec = {
  name: "client",
  summary: "Log in, call /hello with the access token and print the answer",
  details: [
    "The password is read from API_PASSWORD, else asked for without echo on a terminal, else read from the first line of stdin; never from the command line, where other users could see it.",
    "With --device no password is asked for: the client prints a code and a URL, someone opens the URL in a browser, signs in and approves, and the client goes on by itself. Register the client first: deno task clients add tv --public --grant urn:ietf:params:oauth:grant-type:device_code,refresh_token",
  ],
  options: [
    {
      name: "url",
      value: "URL",
      help: `Base URL (default: API_URL, else ${DEFAULT_URL}); http:// only to this machine`,
    },
    { name: "user", value: "NAME", help: `Username (default ${DEFAULT_USER})` },
    { name: "ca", value: "FILE", help: `Certificate to trust (default ${DEFAULT_CA})` },
    { name: "refresh", help: "Then trade the refresh token for new tokens and call /hello again" },
    { name: "logout", help: "Then log out and show that the access token is refused" },
    {
      name: "device",
      help:
        "Sign in as a device instead (RFC 8628): show a code to enter at the service's /device page, wait for approval, then call /hello; needs --client-id",
    },
    {
      name: "client-id",
      value: "ID",
      help:
        "With --device: a client registered with --grant urn:ietf:params:oauth:grant-type:device_code",
    },
    {
      name: "scope",
      value: "SCOPES",
      help: `With --device: the scopes to ask for (default "${DEFAULT_DEVICE_SCOPE}")`,
    },
  ],
};

/** Options of one client run. */
export interface ClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  /** PEM certificate(s) to trust in addition to the system's roots. */
  caCerts?: string[];
  /** After the first call, refresh the tokens and call /hello again. */
  refresh?: boolean;
  /** Finally log out and call /hello once more, expecting a refusal. */
  logout?: boolean;
  /** Receives one line per step: the greeting as JSON, then what each extra step did. */
  report?: (line: string) => void;
}

/** A failure the client reports as one line. */
export class ClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClientError";
  }
}

/**
 * The tutorial's client on fetch: log in, then call /hello with the Bearer token. Certificate
 * verification stays on; a self-signed certificate is trusted only when passed in `caCerts`.
 *
 * @example
 * ```ts
 * const greeting = await runClient({ baseUrl: "https://localhost:8443", username: "user1", password: "password1", caCerts: [pem] });
 * ```
 */
export async function runClient(options: ClientOptions): Promise<unknown> {
  checkBaseUrl(options.baseUrl);
  using client = Deno.createHttpClient({ caCerts: options.caCerts });
  const report = options.report ?? (() => {});
  const login = await send(`${options.baseUrl}/login`, client, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: options.username, password: options.password }),
  });
  if (login.status !== 200) throw new ClientError(`Failed to authenticate: ${describe(login)}`);
  let tokens = tokenFields(login);
  const greeting = await hello(options.baseUrl, client, tokens.accessToken);
  report(JSON.stringify(greeting));
  if (options.refresh) {
    const refreshed = await send(`${options.baseUrl}/refresh`, client, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: tokens.refreshToken }),
    });
    if (refreshed.status !== 200) {
      throw new ClientError(`Failed to refresh: ${describe(refreshed)}`);
    }
    tokens = tokenFields(refreshed);
    const again = await hello(options.baseUrl, client, tokens.accessToken);
    report(`refresh: new access and refresh tokens; /hello says ${JSON.stringify(again)}`);
  }
  if (options.logout) {
    const out = await send(`${options.baseUrl}/logout`, client, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    if (out.status !== 200) throw new ClientError(`Failed to log out: ${describe(out)}`);
    const after = await send(`${options.baseUrl}/hello`, client, {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    if (after.status === 200) throw new ClientError("The token still works after logout");
    report(`logout: ${describe(out)}; /hello now answers ${describe(after)}`);
  }
  return greeting;
}

/** Options of one device sign-in (`--device`). */
export interface DeviceClientOptions {
  baseUrl: string;
  clientId: string;
  scope?: string;
  caCerts?: string[];
  /** Receives the code to enter and where, then the greeting as JSON. */
  report?: (line: string) => void;
  /** Waits between polls; `setTimeout` unless a test hands in another. */
  sleep?: (seconds: number) => Promise<void>;
}

/**
 * Signs in as a device (RFC 8628): asks for a device code, reports the user code and the page to
 * enter it at, polls the token endpoint at the interval the server asks for (slower after each
 * `slow_down`) until a person approves, then calls /hello with the access token.
 *
 * @example
 * ```ts
 * await runDeviceClient({ baseUrl: "https://localhost:8443", clientId: "tv", report: console.log });
 * ```
 */
export async function runDeviceClient(options: DeviceClientOptions): Promise<unknown> {
  checkBaseUrl(options.baseUrl);
  using client = Deno.createHttpClient({ caCerts: options.caCerts });
  const report = options.report ?? (() => {});
  const sleep = options.sleep ??
    ((seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000)));
  const started = await send(`${options.baseUrl}/oauth/device_authorization`, client, {
    method: "POST",
    body: new URLSearchParams({
      client_id: options.clientId,
      scope: options.scope ?? DEFAULT_DEVICE_SCOPE,
    }),
  });
  if (started.status !== 200) {
    throw new ClientError(`Failed to start the device sign-in: ${describeOAuth(started)}`);
  }
  const code = deviceCodeFields(started);
  report(`To sign in, open ${code.verificationUri} and enter the code ${code.userCode}`);
  if (code.verificationUriComplete) report(`(or open ${code.verificationUriComplete})`);
  let interval = code.interval;
  const deadline = Date.now() + code.expiresIn * 1000;
  while (Date.now() < deadline) {
    await sleep(interval);
    const answer = await send(`${options.baseUrl}/oauth/token`, client, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: DEVICE_CODE_GRANT,
        device_code: code.deviceCode,
        client_id: options.clientId,
      }),
    });
    if (answer.status === 200) {
      const greeting = await hello(options.baseUrl, client, tokenFields(answer).accessToken);
      report(JSON.stringify(greeting));
      return greeting;
    }
    const error = (answer.body as { error?: unknown })?.error;
    if (error === "authorization_pending") continue;
    if (error === "slow_down") {
      interval += SLOW_DOWN_STEP_SECONDS;
      continue;
    }
    if (error === "access_denied") throw new ClientError("The sign-in was denied in the browser");
    if (error === "expired_token") break;
    throw new ClientError(`Failed to get tokens: ${describeOAuth(answer)}`);
  }
  throw new ClientError("The code expired before anyone approved it; run again for a new one");
}

interface DeviceCode {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresIn: number;
  interval: number;
}

function deviceCodeFields(answer: Answer): DeviceCode {
  const body = answer.body as Record<string, unknown>;
  const text = (name: string) => typeof body?.[name] === "string" ? body[name] as string : "";
  const seconds = (name: string, fallback: number) =>
    typeof body?.[name] === "number" && (body[name] as number) > 0
      ? body[name] as number
      : fallback;
  if (!text("device_code") || !text("user_code") || !text("verification_uri")) {
    throw new ClientError(
      "The device authorization answer lacks device_code, user_code or verification_uri",
    );
  }
  return {
    deviceCode: text("device_code"),
    userCode: text("user_code"),
    verificationUri: text("verification_uri"),
    verificationUriComplete: text("verification_uri_complete") || undefined,
    // RFC 8628 §3.2: 5 seconds when the server names no interval.
    interval: seconds("interval", 5),
    expiresIn: seconds("expires_in", 600),
  };
}

function describeOAuth({ status, body }: Answer): string {
  const fields = typeof body === "object" && body !== null ? body as Record<string, unknown> : {};
  const description = fields.error_description === undefined ? "" : `: ${fields.error_description}`;
  return fields.error === undefined
    ? describe({ status, body })
    : `${status} ${fields.error}${description}`;
}

async function hello(baseUrl: string, client: Deno.HttpClient, accessToken: string) {
  const answer = await send(`${baseUrl}/hello`, client, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  if (answer.status !== 200) throw new ClientError(`Failed to call hello API: ${describe(answer)}`);
  return answer.body;
}

function tokenFields(answer: Answer): { accessToken: string; refreshToken?: string } {
  const body = answer.body as { access_token?: unknown; refresh_token?: unknown };
  if (typeof body?.access_token !== "string") throw new ClientError("Answer has no access_token");
  return {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === "string" ? body.refresh_token : undefined,
  };
}

interface Answer {
  status: number;
  body: unknown;
}

async function send(url: string, client: Deno.HttpClient, init: RequestInit): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, client });
  } catch (error) {
    const reason = causes(error).join(": ");
    const hint = /certificate|UnknownIssuer|tls/i.test(reason)
      ? "; pass the server's certificate with --ca"
      : "";
    throw new ClientError(`Cannot reach ${new URL(url).origin}: ${reason}${hint}`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/**
 * Throws unless the URL is https://, or http:// to a loopback address (a password sent in clear
 * text could be read on the way).
 */
export function checkBaseUrl(baseUrl: string): void {
  if (!URL.canParse(baseUrl)) throw new ClientError(`Invalid URL "${baseUrl}"`);
  const url = new URL(baseUrl);
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return;
  throw new ClientError(
    `Refusing to send a password to "${url.origin}": use https:// (http:// only to localhost)`,
  );
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

function causes(error: unknown): string[] {
  const messages: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages;
}

function describe({ status, body }: Answer): string {
  const msg = typeof body === "object" && body !== null
    ? (body as Record<string, unknown>).msg ?? (body as Record<string, unknown>).error
    : undefined;
  return msg === undefined ? String(status) : `${status} ${msg}`;
}

async function main(args: string[]): Promise<number> {
  if (args.some((arg) => arg === "--password" || arg.startsWith("--password="))) {
    throw new ClientError(
      "--password is not accepted, since other users can see command lines; use API_PASSWORD, the prompt or stdin",
    );
  }
  const invocation = parseCommandLine(CLIENT_COMMAND, args);
  if (invocation.help !== undefined) {
    console.log(invocation.help);
    return 0;
  }
  const values = invocation.values as {
    url?: string;
    user?: string;
    ca?: string;
    refresh?: boolean;
    logout?: boolean;
    device?: boolean;
    "client-id"?: string;
    scope?: string;
  };
  if (values.device !== true && (values["client-id"] ?? values.scope) !== undefined) {
    throw new ClientError("--client-id and --scope go with --device");
  }
  if (values.device === true && (values.user !== undefined || values.refresh || values.logout)) {
    throw new ClientError(
      "--user, --refresh and --logout do not go with --device: a device signs in without a password",
    );
  }
  if (values.device === true && values["client-id"] === undefined) {
    throw new ClientError("--device needs --client-id: a client registered for the device grant");
  }
  const baseUrl = (values.url ?? Deno.env.get("API_URL") ?? DEFAULT_URL).replace(/\/+$/, "");
  checkBaseUrl(baseUrl);
  const ca = values.ca ?? DEFAULT_CA;
  let caCert: string;
  try {
    caCert = await Deno.readTextFile(ca);
  } catch (error) {
    throw new ClientError(
      `Cannot read certificate "${ca}": ${(error as Error).message}; pass --ca FILE`,
    );
  }
  if (values.device === true) {
    await runDeviceClient({
      baseUrl,
      clientId: values["client-id"]!,
      scope: values.scope,
      caCerts: [caCert],
      report: (line) => console.log(line),
    });
    return 0;
  }
  await runClient({
    baseUrl,
    username: values.user ?? DEFAULT_USER,
    password: await password(),
    caCerts: [caCert],
    refresh: values.refresh === true,
    logout: values.logout === true,
    report: (line) => console.log(line),
  });
  return 0;
}

/** The password from API_PASSWORD, the prompt or stdin; an empty one is refused, never sent. */
async function password(): Promise<string> {
  const fromEnv = Deno.env.get("API_PASSWORD");
  if (fromEnv !== undefined) {
    if (fromEnv === "") {
      throw new ClientError(
        "API_PASSWORD is empty; set it to the password, or unset it to be asked",
      );
    }
    return fromEnv;
  }
  const typed = await readPassword("Password");
  if (typed !== "") return typed;
  throw new ClientError(
    Deno.stdin.isTerminal()
      ? "The password is empty; type it at the prompt"
      : "The password is empty: the first line of stdin is empty or missing; pipe the password in, set API_PASSWORD, or run on a terminal to be asked",
  );
}

if (import.meta.main) await runProgram(() => main(Deno.args));
