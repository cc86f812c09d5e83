/**
 * PostgreSQL for tests: the server named by TEST_DATABASE_URL (as `.ci/run` provides), or else a
 * throwaway cluster started here from Debian's postgresql binaries on a loopback port, stopped
 * when the test process ends. Each test gets a fresh database of its own.
 *
 * @module
 */
import postgres from "postgres";
import { type Prerequisite, prerequisite } from "./prerequisites.ts";
import { freePort, outputOf } from "./process.ts";

const BIN_ROOT = "/usr/lib/postgresql";

/** A PostgreSQL server to make test databases on: TEST_DATABASE_URL, or the installed binaries. */
export const POSTGRESQL: Prerequisite = prerequisite(
  ["postgresql"],
  () => Boolean(Deno.env.get("TEST_DATABASE_URL")) || postgresBin() !== undefined,
  "set TEST_DATABASE_URL",
);

/** The installed server binaries, for clusters a test starts and stops itself. */
export const POSTGRESQL_SERVER: Prerequisite = prerequisite(
  ["postgresql"],
  () => postgresBin() !== undefined,
);

let server: Promise<string> | undefined;

/** A URL of a new, empty database; dropped on dispose. */
export async function createTestDatabase(): Promise<{ url: string } & AsyncDisposable> {
  const adminUrl = await (server ??= startServer());
  const name = `auth_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async [Symbol.asyncDispose]() {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** A throwaway cluster of this test process's own, which fault tests may stop and start. */
export interface OwnCluster extends AsyncDisposable {
  /** URL of its `postgres` database. */
  url: string;
  stop(mode: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Stops it at once and deletes its files, synchronously (for the process's unload). */
  destroySync(): void;
}

/** Files and settings for a cluster of a test's own. */
export interface OwnClusterOptions {
  /** Files written into the cluster's directory (mode 0600, owned by the server's user). */
  files?: Record<string, string>;
  /** Server settings (`-c name=value`); `$DIR` in a value is the cluster's directory. */
  settings?: Record<string, string>;
}

/** Starts a cluster of its own (also when TEST_DATABASE_URL is set), for fault tests. */
export async function startOwnCluster(options: OwnClusterOptions = {}): Promise<OwnCluster> {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  const dir = await Deno.makeTempDir({ prefix: "auth-api-pg-" });
  const port = freePort();
  const asRoot = Deno.uid() === 0;
  for (const [name, text] of Object.entries(options.files ?? {})) {
    await Deno.writeTextFile(`${dir}/${name}`, text, { mode: 0o600 });
  }
  if (asRoot) await outputOf("chown", ["-R", "postgres", dir]);
  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot
      ? ["runuser", ["-u", "postgres", "--", `${bin}/${tool}`, ...args]]
      : [`${bin}/${tool}`, args];
  const pgRun = async (tool: string, args: string[]) => {
    await outputOf(...command(tool, args));
  };
  await pgRun("initdb", ["-D", `${dir}/data`, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const settings = Object.entries(options.settings ?? {})
    .map(([name, value]) => ` -c ${name}=${value.replaceAll("$DIR", dir)}`).join("");
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${settings}`;
  const cluster: OwnCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: (mode) => pgRun("pg_ctl", ["-D", `${dir}/data`, "-m", mode, "-w", "stop"]),
    start: () =>
      pgRun("pg_ctl", [
        "-D",
        `${dir}/data`,
        "-o",
        serverOptions,
        "-l",
        `${dir}/log`,
        "-w",
        "start",
      ]),
    destroySync() {
      const [program, args] = command("pg_ctl", ["-D", `${dir}/data`, "-m", "immediate", "stop"]);
      new Deno.Command(program, { args }).outputSync();
      Deno.removeSync(dir, { recursive: true });
    },
    async [Symbol.asyncDispose]() {
      await cluster.stop("immediate").catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
  };
  await cluster.start();
  return cluster;
}

async function startServer(): Promise<string> {
  const given = Deno.env.get("TEST_DATABASE_URL");
  if (given) return given;
  const cluster = await startOwnCluster();
  globalThis.addEventListener("unload", () => cluster.destroySync());
  return cluster.url;
}

function postgresBin(): string | undefined {
  try {
    const versions = [...Deno.readDirSync(BIN_ROOT)].map((entry) => entry.name).sort();
    for (const version of versions.reverse()) {
      const bin = `${BIN_ROOT}/${version}/bin`;
      try {
        Deno.statSync(`${bin}/initdb`);
        return bin;
      } catch {
        // Not a server installation.
      }
    }
  } catch {
    // No PostgreSQL installed.
  }
  return undefined;
}
