/**
 * @module
 * What every server the benchmark loads shares, and how each is started: a temp dir holding a
 * certificate made as `deno task certs` makes it and a SQLite database with the benchmark user
 * hashed at the production iteration count, our server started with the exact flags of the `serve`
 * task, the bare `Deno.serve` ceilings, and a real POST /login for the token the loads send.
 */
import { resolve } from "node:path";
import { MIN_PBKDF2_ITERATIONS, Passwords } from "../../src/auth/accounts/passwords.ts";
import { generateCertificate } from "../../src/certs/generate.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { ServerProcess } from "../helpers/process.ts";
import { login as postLogin } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import { writeTlsFiles } from "../helpers/tls.ts";
import { writePostScript } from "./wrk.ts";

/** The repository root, where `deno run src/main.ts` finds deno.json and the lock file. */
export const REPO_ROOT = resolve(import.meta.dirname!, "../..");

/** The user the benchmark logs in as; the bare servers greet the same name. */
export const BENCH_USER = "user1";

/** The body both /hello implementations send to {@linkcode BENCH_USER}. */
export const HELLO_BODY = { message: `Hello, ${BENCH_USER}! You're authenticated.` };

/** Everything the servers under test share: a temp dir with a certificate and a database. */
export interface Fixture extends AsyncDisposable {
  dir: string;
  certPath: string;
  keyPath: string;
  certPem: string;
  databaseUrl: string;
  username: string;
  password: string;
  /** A fetch client that trusts the certificate. */
  client: Deno.HttpClient;
  /** A wrk script that logs in as the user. */
  loginScript: string;
}

/** Which bare server to start. */
export type BareMode = "minimal" | "same-headers" | "same-work";

/** Servers under load: stopped gently, their access log read past and dropped. */
const SERVER_UNDER_LOAD = { disposeSignal: "SIGTERM", dropLogsAfterListening: true } as const;

/**
 * Makes a temp dir with a certificate from `src/certs/generate.ts` (RSA 2048, as `deno task
 * certs`), a SQLite database holding the user hashed at the production iteration count, and the
 * wrk login script.
 *
 * @example
 * ```ts
 * await using fixture = await createFixture();
 * ```
 */
export async function createFixture(): Promise<Fixture> {
  const temp = await tempDir("auth-api-bench-");
  const dir = temp.path;
  try {
    const generated = await generateCertificate();
    const { certPem } = generated;
    // The default layout, which is all the serve task may read: certs/ and data/.
    const { certPath, keyPath } = await writeTlsFiles(dir, generated);
    const password = crypto.randomUUID();
    const store = await SqliteStore.open(`${dir}/data/auth.db`);
    try {
      const hasher = new Passwords(MIN_PBKDF2_ITERATIONS);
      await store.addUser(BENCH_USER, await hasher.hash(password));
    } finally {
      await store.close();
    }
    const loginScript = await writePostScript(`${dir}/login.lua`, {
      username: BENCH_USER,
      password,
    });
    const client = Deno.createHttpClient({ caCerts: [certPem] });
    return {
      dir,
      certPath,
      keyPath,
      certPem,
      databaseUrl: `sqlite:${dir}/data/auth.db`,
      username: BENCH_USER,
      password,
      client,
      loginScript,
      async [Symbol.asyncDispose]() {
        client.close();
        await temp[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await temp[Symbol.asyncDispose]();
    throw error;
  }
}

/** How to start a server under test. */
export interface StartOptions {
  /** Kills the server when aborted. */
  signal?: AbortSignal;
  /** Variables added to the server's environment. */
  env?: Record<string, string>;
}

/**
 * Starts our server exactly as the `serve` task does (its flags, in the fixture's directory, whose
 * certs/ and data/ are all it may read), so that the figures are those of the documented
 * command, on `port` (0: any) with the fixture's files and `logLevel`.
 */
export function startOurServer(
  fixture: Fixture,
  options: StartOptions & { port: number; logLevel: string },
): ServerProcess {
  return new ServerProcess(["serve", "--port", String(options.port)], {
    name: "Our server",
    cwd: fixture.dir,
    env: {
      TLS_CERT: fixture.certPath,
      TLS_KEY: fixture.keyPath,
      DATABASE_URL: fixture.databaseUrl,
      LOG_LEVEL: options.logLevel,
      ...options.env,
    },
    ...SERVER_UNDER_LOAD,
    signal: options.signal,
  });
}

/** Starts a bare ceiling server on any port. */
export function startBareServer(
  mode: BareMode,
  fixture: Fixture,
  options: StartOptions = {},
): ServerProcess {
  const args = ["--mode", mode, "--cert", fixture.certPath, "--key", fixture.keyPath];
  return new ServerProcess(args, {
    name: `Bare server (${mode})`,
    flags: [`--allow-read=${fixture.dir}`, "--allow-net"],
    script: resolve(import.meta.dirname!, "bare_server.ts"),
    cwd: REPO_ROOT,
    ...SERVER_UNDER_LOAD,
    signal: options.signal,
  });
}

/** Logs in with a real POST /login and returns the access token. */
export async function login(baseUrl: string, fixture: Fixture): Promise<string> {
  const { res, body } = await postLogin(
    { url: baseUrl, client: fixture.client },
    fixture.username,
    fixture.password,
    AbortSignal.timeout(30_000),
  );
  if (res.status !== 200 || typeof body.access_token !== "string") {
    throw new Error(`POST /login answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.access_token;
}
