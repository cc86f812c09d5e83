import { parseArgs } from "node:util";
import { DEMO_USERS } from "./dev.ts";

const USAGE = `Usage: deno task client [--url URL] [--user NAME] [--password PASSWORD] [--ca FILE]

Logs in, calls /hello with the access token and prints the answer.
  --url       base URL (default: $API_URL or https://localhost:8443)
  --user      username (default: user1)
  --password  password (default: the demo password of user1)
  --ca        certificate to trust (default: certs/cert.pem)`;

/** Options of one client run. */
export interface ClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  /** PEM certificate(s) to trust in addition to the system's roots. */
  caCerts?: string[];
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
  using client = Deno.createHttpClient({ caCerts: options.caCerts });
  const login = await send(`${options.baseUrl}/login`, client, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: options.username, password: options.password }),
  });
  if (login.status !== 200) throw new ClientError(`Failed to authenticate: ${describe(login)}`);
  const { access_token: accessToken } = login.body as { access_token?: string };
  if (typeof accessToken !== "string") throw new ClientError("Login answer has no access_token");
  const hello = await send(`${options.baseUrl}/hello`, client, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  if (hello.status !== 200) throw new ClientError(`Failed to call hello API: ${describe(hello)}`);
  return hello.body;
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
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      url: { type: "string" },
      user: { type: "string", default: "user1" },
      password: { type: "string" },
      ca: { type: "string", default: "certs/cert.pem" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const baseUrl = (values.url ?? Deno.env.get("API_URL") ?? "https://localhost:8443")
    .replace(/\/+$/, "");
  let caCert: string;
  try {
    caCert = await Deno.readTextFile(values.ca);
  } catch (error) {
    throw new ClientError(
      `Cannot read certificate "${values.ca}": ${(error as Error).message}; pass --ca FILE`,
    );
  }
  const greeting = await runClient({
    baseUrl,
    username: values.user,
    password: values.password ?? DEMO_USERS[values.user] ?? "",
    caCerts: [caCert],
  });
  console.log(JSON.stringify(greeting));
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    console.error(`Error: ${(error as Error).message}`);
    Deno.exitCode = 1;
  }
}
