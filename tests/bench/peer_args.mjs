/**
 * The command line every JWT-verifying peer of the benchmark takes (`--cert`, `--key`, `--jwk`,
 * `--issuer`, `--audience`, `--port`), read the same way on Deno and on Node. It only parses:
 * it reads no file and starts no server.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";

/**
 * Reads a peer's options from `args`, with `extra` options of its own; exits with status 1 and
 * one `Error:` line when a file, the issuer or the audience is missing.
 *
 * @param {string[]} args the command line after the program's name
 * @param {Record<string, { type: "string" | "boolean", default?: string | boolean }>} [extra]
 * @returns {{ cert: string, key: string, jwk: string, issuer: string, audience: string,
 *   port: string, [name: string]: string | boolean }}
 */
export function peerArgs(args, extra = {}) {
  const { values } = parseArgs({
    args,
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      jwk: { type: "string" },
      issuer: { type: "string" },
      audience: { type: "string" },
      port: { type: "string", default: "0" },
      ...extra,
    },
  });
  if (!values.cert || !values.key || !values.jwk || !values.issuer || !values.audience) {
    console.error("Error: expected --cert FILE --key FILE --jwk FILE --issuer URL --audience AUD");
    process.exit(1);
  }
  return /** @type {any} */ (values);
}
