import { resolve } from "node:path";
import { MIN_PBKDF2_ITERATIONS, PasswordHasher } from "../../src/auth/passwords.ts";
import { generateCertificate } from "../../src/certs/generate.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
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
export type BareMode = "minimal" | "same-headers";

/** Variables a child `deno` needs from ours (its cache, its PATH); everything else is dropped. */
const PASSED_ENV = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "NPM_CONFIG_REGISTRY"];

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
  const dir = await Deno.makeTempDir({ prefix: "auth-api-bench-" });
  try {
    const { certPem, keyPem } = await generateCertificate();
    // The default layout, which is all the serve task may read: certs/ and data/.
    await Deno.mkdir(`${dir}/certs`);
    const certPath = `${dir}/certs/cert.pem`;
    const keyPath = `${dir}/certs/key.pem`;
    await Deno.writeTextFile(certPath, certPem);
    await Deno.writeTextFile(keyPath, keyPem, { mode: 0o600 });
    const password = crypto.randomUUID();
    const store = await SqliteStore.open(`${dir}/data/auth.db`);
    try {
      const hasher = new PasswordHasher(MIN_PBKDF2_ITERATIONS);
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
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

/**
 * `deno run` arguments of our server, as the `serve` task starts it, to be run in the fixture's
 * directory (where its certs/ and data/ are).
 */
export function ourServerArgs(port: number): string[] {
  // Exactly what `deno task serve` runs, so the figures are those of the documented command.
  const { tasks } = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/deno.json`));
  const [deno, ...args] = (tasks.serve as string).split(/\s+/);
  if (deno !== "deno") throw new Error(`Unexpected serve task "${tasks.serve}"`);
  const script = args.indexOf("src/main.ts");
  args[script] = `${REPO_ROOT}/src/main.ts`;
  return [...args, "--port", String(port)];
}

/** The environment of our server: production defaults, the fixture's files at their defaults. */
export function ourServerEnv(logLevel: string): Record<string, string> {
  return { ...passedEnv(), LOG_LEVEL: logLevel };
}

/** `deno run` arguments of a bare ceiling server. */
export function bareServerArgs(mode: BareMode, fixture: Fixture): string[] {
  return [
    "run",
    `--allow-read=${fixture.dir}`,
    "--allow-net",
    resolve(import.meta.dirname!, "bare_server.ts"),
    "--mode",
    mode,
    "--cert",
    fixture.certPath,
    "--key",
    fixture.keyPath,
  ];
}

/** The environment of a bare server. */
export function bareServerEnv(): Record<string, string> {
  return passedEnv();
}

/** Logs in with a real POST /login and returns the access token. */
export async function login(baseUrl: string, fixture: Fixture): Promise<string> {
  const res = await fetch(`${baseUrl}/login`, {
    method: "POST",
    client: fixture.client,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: fixture.username, password: fixture.password }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = await res.json();
  if (res.status !== 200 || typeof body.access_token !== "string") {
    throw new Error(`POST /login answered ${res.status}: ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

function passedEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of PASSED_ENV) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
