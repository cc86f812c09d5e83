/**
 * The frameworks users would pick for GET /hello, as peers of part (a): Hono 4 with `hono/jwt`
 * on Deno, and Fastify 5 with @fastify/jwt on Node (see node_peers.ts), with and without
 * fast-jwt's verify cache. Each verifies our ES256 access tokens with the public key our JWKS
 * lists (signature, expiry, issuer, audience) and answers with our body and headers.
 *
 * @module
 */
import { decodeJwt, decodeProtectedHeader } from "jose";
import { resolve } from "node:path";
import { ServerProcess } from "../helpers/process.ts";
import type { Fixture } from "./fixture.ts";
import type { HelloTarget } from "./hello_load.ts";
import { preparePeerRuntime } from "./node_peers.ts";
import { waitForStatus } from "./poll.ts";

/** Where the peers are and what runs Fastify. */
export interface HelloPeers {
  targets: HelloTarget[];
  /** "node v20.…" or "deno". */
  fastifyRuntime: string;
}

/**
 * Starts the peers, their processes and files owned by `stack`, set up to accept `token` (a token
 * our server at `oursUrl` issued), and waits until each answers.
 */
export async function startHelloPeers(
  fixture: Fixture,
  options: { oursUrl: string; token: string; stack: AsyncDisposableStack; signal?: AbortSignal },
): Promise<HelloPeers> {
  const { oursUrl, token, stack, signal } = options;
  const { kid } = decodeProtectedHeader(token);
  const { iss, aud } = decodeJwt(token);
  const res = await fetch(`${oursUrl}/.well-known/jwks.json`, { client: fixture.client, signal });
  const { keys } = await res.json() as { keys: { kid: string }[] };
  const jwk = keys.find((key) => key.kid === kid);
  if (!jwk) throw new Error(`Our JWKS does not list the token's key "${kid}"`);
  const jwkPath = `${fixture.dir}/access-token-jwk.json`;
  await Deno.writeTextFile(jwkPath, JSON.stringify(jwk));
  const common = [
    "--cert",
    fixture.certPath,
    "--key",
    fixture.keyPath,
    "--jwk",
    jwkPath,
    "--issuer",
    String(iss),
    "--audience",
    String(Array.isArray(aud) ? aud[0] : aud),
  ];
  const runtime = await preparePeerRuntime(stack, signal);
  const quiet = { disposeSignal: "SIGTERM", dropLogsAfterListening: true, signal } as const;
  const started: [HelloTarget["name"], ServerProcess][] = [
    [
      "hono",
      stack.use(
        new ServerProcess(common, {
          name: "Hono",
          script: resolve(import.meta.dirname!, "hono_peer.ts"),
          flags: [`--allow-read=${fixture.dir}`, "--allow-net"],
          cwd: resolve(import.meta.dirname!, "../.."),
          ...quiet,
        }),
      ),
    ],
  ];
  for (const [name, extra] of [["fastify", []], ["fastify-cache", ["--cache"]]] as const) {
    const { command, args, cwd } = runtime.command("fastify_peer.mjs");
    started.push([
      name,
      stack.use(
        new ServerProcess([], {
          name,
          program: { command, args: [...args, ...common, ...extra] },
          cwd,
          ...quiet,
        }),
      ),
    ]);
  }
  const targets: HelloTarget[] = [];
  for (const [name, server] of started) {
    const url = new URL(await server.listening(30_000)).origin;
    // Without a token, each refuses: it is up. run.ts checks the answer to the token.
    await waitForStatus(`${url}/hello`, {
      client: fixture.client,
      status: 401,
      exited: server.exited,
      signal,
    });
    targets.push({ name, url });
  }
  return { targets, fastifyRuntime: runtime.name };
}
