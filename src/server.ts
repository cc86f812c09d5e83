import { createApp } from "./app.ts";
import type { ServeHandler } from "./http/edge.ts";
import { KeyRing } from "./auth/keys.ts";
import { PasswordHasher } from "./auth/passwords.ts";
import { LoginThrottle } from "./auth/throttle.ts";
import { TokenService } from "./auth/tokens.ts";
import { loadTlsFiles } from "./certs/load.ts";
import { type Config, publicIdentity, urlHost } from "./config.ts";
import type { Logger } from "./log.ts";
import { createRedirectHandler } from "./redirect.ts";
import { openStore } from "./store/open.ts";
import type { Store } from "./store/store.ts";

/** A running service. */
export interface RunningServer extends AsyncDisposable {
  /** Base URL of the HTTPS listener, with the port actually bound. */
  url: string;
  /** Base URL of the plain-HTTP redirect listener, when enabled. */
  httpUrl?: string;
  store: Store;
  tokens: TokenService;
  /** Stops accepting, lets in-flight requests finish within the shutdown bound, closes the store. */
  shutdown(): Promise<void>;
}

/** Services that tests may replace. */
export interface ServerOverrides {
  hasher?: PasswordHasher;
  store?: Store;
}

const KEY_REFRESH_INTERVAL_MS = 1000;

/**
 * Starts the HTTPS service (and the optional redirect listener) from a validated config.
 *
 * @example
 * ```ts
 * await using server = await startServer(loadConfig([], Deno.env.toObject()), logger);
 * ```
 */
export async function startServer(
  config: Config,
  logger: Logger,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  const tls = await loadTlsFiles(config.tlsCert, config.tlsKey);
  const store = overrides.store ?? await openStore(config.databaseUrl);
  const keys = await KeyRing.open(store, {
    secret: config.jwtSecret,
    refreshIntervalMs: KEY_REFRESH_INTERVAL_MS,
  });
  const hasher = overrides.hasher ?? new PasswordHasher(config.passwordIterations);
  hasher.prepare(); // Runs in the background; the first unknown-user login awaits it.

  // The app is built once the port is bound, since the default issuer names the real port;
  // no request can arrive before this function's next await.
  const app: { handler?: ServeHandler } = {};
  const https = listen(() =>
    Deno.serve({
      hostname: config.host,
      port: config.port,
      cert: tls.cert,
      key: tls.key,
      onListen() {},
      onError: () => new Response(null, { status: 500 }),
    }, (req, info) => app.handler!(req, info))
  );
  const url = `https://${urlHost(config.host)}:${https.addr.port}`;
  const { issuer, audience } = publicIdentity(config, url);
  const tokens = new TokenService(keys, {
    issuer,
    audience,
    ttlSeconds: config.accessTokenTtlSeconds,
    leewaySeconds: config.clockLeewaySeconds,
    maxTokenBytes: config.maxTokenBytes,
  });
  app.handler = createApp({
    config,
    logger,
    store,
    hasher,
    tokens,
    throttle: new LoginThrottle(store, config.throttle),
  });
  const http = config.httpPort === undefined ? undefined : listen(() =>
    Deno.serve(
      { hostname: config.host, port: config.httpPort, onListen() {} },
      createRedirectHandler(https.addr.port, config.publicUrl),
    )
  );
  const httpUrl = http && `http://${urlHost(config.host)}:${http.addr.port}`;
  logger.log("info", "Listening", { url, http_url: httpUrl, signing_alg: keys.signingKey().alg });
  logger.flush();

  let stopping: Promise<void> | undefined;
  function shutdown(): Promise<void> {
    stopping ??= (async () => {
      logger.log("info", "Shutting down", { timeout_ms: config.shutdownTimeoutMs });
      const drained = Promise.all([https.shutdown(), http?.shutdown()]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        drained.then(() => true),
        new Promise<false>((resolve) =>
          timer = setTimeout(resolve, config.shutdownTimeoutMs, false)
        ),
      ]);
      clearTimeout(timer);
      keys.close();
      await store.close();
      logger.log("info", "Stopped", { drained: finished });
      logger.flush();
    })();
    return stopping;
  }
  return { url, httpUrl, store, tokens, shutdown, [Symbol.asyncDispose]: shutdown };
}

function listen(start: () => Deno.HttpServer<Deno.NetAddr>): Deno.HttpServer<Deno.NetAddr> {
  try {
    return start();
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new ListenError(`${error.message}; choose another port with --port or PORT`);
    }
    throw new ListenError((error as Error).message);
  }
}

/** The server could not bind or start TLS. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ListenError";
  }
}
