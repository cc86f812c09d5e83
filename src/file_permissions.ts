/**
 * @module
 * Whether Deno's permissions let this process read and write the files its settings name,
 * asked before any is opened: a file outside them is one line naming the setting and how to
 * allow it, since the tasks' users cannot pass the `--allow-read` that Deno's own message asks
 * for. It only asks Deno; it opens nothing.
 */
import { dirname } from "node:path";
import type { Config } from "./config.ts";

/** What a process may be allowed to do with a path. */
export type Access = "read" | "write";

/** Where the deno.json tasks may read and write, as their permissions say. */
const TASK_DIRS: Record<Access, string> = { read: "certs/ and data/", write: "data/" };

/**
 * Why this process may not `access` the file at `path` that `setting` names, or undefined when
 * it may (or when Deno will ask the person at the terminal).
 *
 * @example
 * ```ts
 * const problem = fileAccessProblem("TLS_CERT", "/etc/tls/cert.pem", ["read"]);
 * ```
 */
export function fileAccessProblem(
  setting: string,
  path: string,
  access: readonly Access[],
): string | undefined {
  const dir = dirname(path);
  const denied = access.find((name) => !allowed(name, path) || !allowed(name, dir));
  if (denied === undefined) return undefined;
  const permissions = access.length > 1 ? "read and write permissions" : `${denied} permission`;
  return `${setting} "${path}" is outside what this process may ${denied} (the deno.json tasks may ${denied} only ${
    TASK_DIRS[denied]
  }): move it there, or add "${dir}" to the ${permissions} of the tasks in deno.json, since flags after "deno task NAME" go to the program, not to Deno (a compiled binary needs rebuilding)`;
}

/**
 * The first file the configuration names that this process may not use as it would: the TLS
 * certificate and key (when `tls`), the SQLite store (written unless `readOnly`), and the
 * PostgreSQL root certificate. Undefined when all are allowed.
 */
export function configFileProblem(
  config: Config,
  { tls, readOnly }: { tls: boolean; readOnly: boolean },
): string | undefined {
  const store: Access[] = readOnly ? ["read"] : ["read", "write"];
  const files: [string, string | undefined, Access[]][] = [
    ["TLS_CERT", tls ? config.tlsCert : undefined, ["read"]],
    ["TLS_KEY", tls ? config.tlsKey : undefined, ["read"]],
    ["DATABASE_URL", sqlitePath(config.databaseUrl), store],
    rootCertificate(config),
  ];
  for (const [setting, path, access] of files) {
    const problem = path === undefined ? undefined : fileAccessProblem(setting, path, access);
    if (problem) return problem;
  }
  return undefined;
}

/** Whether this process may `access` `path`, or Deno will ask the person at the terminal. */
export function allowed(access: Access, path: string): boolean {
  const { state } = Deno.permissions.querySync({ name: access, path });
  // "prompt" on a terminal: Deno asks the person, who may allow it.
  return state === "granted" || (state === "prompt" && Deno.stdin.isTerminal());
}

function sqlitePath(databaseUrl: string): string | undefined {
  if (!databaseUrl.startsWith("sqlite:")) return undefined;
  const path = databaseUrl.slice("sqlite:".length);
  return path === "" || path === ":memory:" ? undefined : path;
}

/** The CA file of `sslmode=verify-full`: the URL's `sslrootcert`, else PGSSLROOTCERT. */
function rootCertificate(config: Config): [string, string | undefined, Access[]] {
  const fromUrl = URL.canParse(config.databaseUrl)
    ? new URL(config.databaseUrl).searchParams.get("sslrootcert") ?? undefined
    : undefined;
  const path = fromUrl ?? config.databaseRootCert;
  const setting = fromUrl === undefined ? "PGSSLROOTCERT" : "DATABASE_URL's sslrootcert";
  return [setting, path === "system" ? undefined : path, ["read"]];
}
