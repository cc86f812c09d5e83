/**
 * The operator's CLI run on a test server's or a cluster's store: any command, and `clients add`
 * built from named options, checked to succeed, with the secret it printed read back. It starts
 * no server and never reads the store itself.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CliResult, runCli } from "./process.ts";

/** Where a store lives: a folder with its SQLite file, or the database a cluster names. */
export interface StoreHome {
  dir: string;
  databaseUrl?: string;
}

/** Runs a CLI command on the store of `home` (its SQLite file unless it names a database). */
export function cliOn(home: StoreHome, args: string[], stdin?: string): Promise<CliResult> {
  return runCli(args, {
    cwd: home.dir,
    env: { DATABASE_URL: home.databaseUrl ?? `sqlite:${home.dir}/data/auth.db` },
    stdin,
  });
}

/** The options of `clients add`, by name; absent ones are left out of the command line. */
export interface ClientFlags {
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  scope?: string;
  grants?: string[];
  public?: boolean;
  firstParty?: boolean;
  name?: string;
  requirePar?: boolean;
}

/** The arguments of `clients add clientId` with `flags`. */
export function clientsAddArgs(clientId: string, flags: ClientFlags = {}): string[] {
  return [
    "clients",
    "add",
    clientId,
    ...(flags.redirectUris ?? []).flatMap((uri) => ["--redirect-uri", uri]),
    ...(flags.postLogoutRedirectUris ?? []).flatMap((uri) => ["--post-logout-redirect-uri", uri]),
    ...(flags.scope === undefined ? [] : ["--scope", flags.scope]),
    ...(flags.grants ?? []).flatMap((grant) => ["--grant", grant]),
    ...(flags.public ? ["--public"] : []),
    ...(flags.firstParty ? ["--first-party"] : []),
    ...(flags.name === undefined ? [] : ["--name", flags.name]),
    ...(flags.requirePar ? ["--require-par"] : []),
  ];
}

/** Runs `clients add` on the store of `home` and asserts that it succeeded. */
export async function addClient(
  home: StoreHome,
  clientId: string,
  flags: ClientFlags = {},
): Promise<CliResult> {
  const added = await cliOn(home, clientsAddArgs(clientId, flags));
  assert.equal(added.code, 0, added.stderr);
  return added;
}

/** The `client_secret` a `clients add` of a confidential client printed. */
export function secretOf(result: CliResult): string {
  const match = /^client_secret: ([A-Za-z0-9_-]{43})$/m.exec(result.stdout);
  assert.ok(match, result.stdout);
  return match[1];
}
