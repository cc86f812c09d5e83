/**
 * A `serve` child in a directory of its own: {@linkcode serveSettings} writes the test certificate
 * into it and names it, and the SQLite store beside it, by absolute paths; {@linkcode serveChild}
 * starts `serve --port 0` there.
 *
 * @module
 */
import { type ServerOptions, ServerProcess } from "./process.ts";
import { type PemPair, writeTlsFiles } from "./tls.ts";

/**
 * Writes `pair` (the test certificate when absent) into `dir`/certs and returns the settings of a
 * serve child that reads it from there and keeps its SQLite store in `dir`/data.
 */
export async function serveSettings(dir: string, pair?: PemPair): Promise<Record<string, string>> {
  const { certPath, keyPath } = await writeTlsFiles(dir, pair);
  return { TLS_CERT: certPath, TLS_KEY: keyPath, DATABASE_URL: `sqlite:${dir}/data/auth.db` };
}

/** A `serve --port 0` child working in `dir` on {@linkcode serveSettings} and `env`. */
export async function serveChild(
  dir: string,
  env: Record<string, string> = {},
  options: Omit<ServerOptions, "cwd" | "env"> = {},
): Promise<ServerProcess> {
  const settings = await serveSettings(dir);
  return new ServerProcess(["serve", "--port", "0"], {
    ...options,
    cwd: dir,
    env: { ...settings, ...env },
  });
}
