/**
 * Peer servers written for Node (oidc-provider, Fastify) as the benchmark runs them: on Node when
 * it is installed, from a `node_modules` that `deno install` lays out in a temp dir from this
 * repository's deno.json and lock file (so Node gets exactly the pinned versions, offline once
 * Deno's cache has them), else on Deno.
 *
 * @module
 */
import { basename, resolve } from "node:path";
import { REPO_ROOT } from "./fixture.ts";

/** How the peer scripts run. */
export interface PeerRuntime {
  /** "node v20.…" or "deno". */
  name: string;
  /** The program and arguments that run `script` (a file of tests/bench). */
  command(script: string): { command: string; args: string[]; cwd: string };
}

/**
 * Finds Node and lays out the node_modules it needs in a temp dir that `stack` removes; without
 * Node, the peers run on Deno.
 */
export async function preparePeerRuntime(
  stack: AsyncDisposableStack,
  signal?: AbortSignal,
): Promise<PeerRuntime> {
  const node = await versionOf("node", signal);
  if (!node) {
    return {
      name: "deno",
      command: (script) => ({
        command: Deno.execPath(),
        args: ["run", "-A", resolve(import.meta.dirname!, script)],
        cwd: REPO_ROOT,
      }),
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "auth-api-peers-" });
  stack.defer(() => Deno.remove(dir, { recursive: true }));
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify({ nodeModulesDir: "auto", imports: config.imports, lock: { frozen: true } }),
  );
  await Deno.copyFile(`${REPO_ROOT}/deno.lock`, `${dir}/deno.lock`);
  const installed = await new Deno.Command(Deno.execPath(), {
    args: ["install"],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
    signal,
  }).output();
  if (!installed.success) {
    const reason = new TextDecoder().decode(installed.stderr).trim().split("\n").at(-1);
    throw new Error(`Cannot lay out node_modules for the peer servers: ${reason}`);
  }
  return {
    name: `node ${node}`,
    command(script) {
      // Node finds packages from the script's own directory up, so the script goes beside them.
      const copy = `${dir}/${basename(script)}`;
      Deno.copyFileSync(resolve(import.meta.dirname!, script), copy);
      return { command: "node", args: [copy], cwd: dir };
    },
  };
}

async function versionOf(command: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(command, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
      signal,
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
