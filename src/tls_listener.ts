/**
 * @module
 * The HTTPS listener whose certificate can be replaced without refusing connections. `Deno.serve`
 * takes the certificate once, so a reload starts a second listener on the same port
 * (`SO_REUSEPORT`, which Deno allows on TLS listeners with `--unstable-net`) with the new pair,
 * then lets the old one finish its requests and close. Without that flag a reload closes the old
 * listener first, and connections arriving in between are refused.
 */
import { dirname, resolve } from "node:path";
import { CertificateError } from "./certs/errors.ts";
import { loadTlsFiles, type TlsFiles } from "./certs/load.ts";
import type { ServeHandler } from "./http/edge.ts";
import type { Logger } from "./log.ts";

/** How a reload replaces the certificate. */
export type ReloadMode = "seamless" | "with_gap";

/** A running HTTPS listener whose certificate can be replaced. */
export interface CertificateListener {
  /** The port bound. */
  port: number;
  /** `seamless` with `--unstable-net`, else `with_gap`. */
  reload: ReloadMode;
  /**
   * Loads and checks a new pair and serves new connections with it; a pair that fails the checks
   * is refused (one log line, the old pair keeps serving), and one identical to the pair served
   * is left as it is (one log line). Resolves to whether it is in use.
   */
  reloadFrom(certPath: string, keyPath: string, trigger: string): Promise<boolean>;
  /** Stops every listener, letting in-flight requests finish. */
  shutdown(): Promise<void>;
}

/** Options of {@linkcode listenWithReload}. */
export interface ReloadableListenOptions {
  hostname: string;
  port: number;
  tls: TlsFiles;
  logger: Logger;
  handler: ServeHandler;
  onError: (error: unknown) => Response;
}

/**
 * Starts an HTTPS listener that can take a new certificate later.
 *
 * @example
 * ```ts
 * const listener = listenWithReload({ hostname, port: 8443, tls, logger, handler, onError });
 * await listener.reloadFrom("certs/cert.pem", "certs/key.pem", "SIGHUP");
 * ```
 */
export function listenWithReload(options: ReloadableListenOptions): CertificateListener {
  const { hostname, logger } = options;
  // Shared ports would also let a second instance bind silently: claim the port alone first, so
  // that "address in use" is still reported.
  const port = claimPort(hostname, options.port);
  const serve = (tls: TlsFiles, reusePort: boolean) =>
    Deno.serve({
      hostname,
      port,
      cert: tls.cert,
      key: tls.key,
      reusePort,
      onListen() {},
      onError: options.onError,
    }, options.handler);
  const reload: ReloadMode = portSharingAllowed() ? "seamless" : "with_gap";
  let current = serve(options.tls, reload === "seamless");
  let served = sameFiles(options.tls);
  const retiring: Promise<void>[] = [];
  let queue = Promise.resolve(true);

  async function replace(certPath: string, keyPath: string, trigger: string): Promise<boolean> {
    let tls: TlsFiles;
    try {
      tls = await loadTlsFiles(certPath, keyPath);
    } catch (error) {
      const message = error instanceof CertificateError ? error.message : String(error);
      logger.log("error", "Certificate reload refused; the current certificate stays", {
        error: message,
        trigger,
      });
      return false;
    }
    // A renewal is announced twice (the deploy hook's SIGHUP and the file watcher): the pair
    // already served is not loaded again.
    if (served(tls)) {
      logger.log("info", "Certificate unchanged; nothing to reload", { cert: certPath, trigger });
      return true;
    }
    served = sameFiles(tls);
    const old = current;
    if (reload === "seamless") {
      current = serve(tls, true);
      retiring.push(old.shutdown());
    } else {
      await old.shutdown();
      current = serve(tls, false);
    }
    logger.log("info", "Certificate reloaded", { cert: certPath, mode: reload, trigger });
    return true;
  }

  return {
    port,
    reload,
    reloadFrom(certPath, keyPath, trigger) {
      queue = queue.then(() => replace(certPath, keyPath, trigger));
      return queue;
    },
    async shutdown() {
      await queue;
      await Promise.all([current.shutdown(), ...retiring]);
    },
  };
}

/** A test for whether another pair has the same certificate and key text as `tls`. */
function sameFiles(tls: TlsFiles): (other: TlsFiles) => boolean {
  return (other) => other.cert === tls.cert && other.key === tls.key;
}

/**
 * Whether Deno lets TLS listeners share a port: only with `--unstable-net`, which exits the
 * process when the option is used without it, and which also exposes `Deno.listenDatagram`.
 */
function portSharingAllowed(): boolean {
  return typeof (Deno as unknown as Record<string, unknown>).listenDatagram === "function";
}

/** Binds `port` (a free one for 0) without sharing, to learn it is free, and releases it. */
function claimPort(hostname: string, port: number): number {
  const probe = Deno.listen({ hostname, port });
  const bound = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return bound;
}

/** How long file events are collected before one reload: a renewal writes two files. */
const WATCH_SETTLE_MS = 500;

/**
 * Calls `onChange` once the certificate or key file has changed and the writes have settled.
 * Watches the files' directories, so that files replaced by rename or by a new symlink (as ACME
 * clients do) are seen too. Stop it with `shutdown()`.
 */
export function watchCertificateFiles(
  paths: string[],
  onChange: () => void,
): { shutdown(): Promise<void> } {
  const files = new Set(paths.map((path) => resolve(path)));
  const watcher = Deno.watchFs([...new Set([...files].map((file) => dirname(file)))]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watching = (async () => {
    for await (const event of watcher) {
      if (!event.paths.some((path) => files.has(resolve(path)))) continue;
      clearTimeout(timer);
      timer = setTimeout(onChange, WATCH_SETTLE_MS);
    }
  })();
  return {
    async shutdown() {
      clearTimeout(timer);
      watcher.close();
      await watching;
    },
  };
}
