import { createApp } from "./app.ts";
import { createServeErrorHandler, type ServeHandler } from "./http/edge.ts";
import { ClientRegistry } from "./auth/clients.ts";
import { KeyRing, unixNow } from "./auth/keys.ts";
import { PasswordLogin } from "./auth/password_login.ts";
import { RevocationList } from "./auth/revocations.ts";
import { SessionService } from "./auth/sessions.ts";
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

/** How often signing keys and revocations are re-read, for changes made by other processes. */
const SYNC_INTERVAL_MS = 1000;
/** How often expired refresh tokens, revocations and throttle entries are deleted. */
const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

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
  const onSyncError = (error: unknown) =>
    logger.log("warn", "Cannot read the store", { error: String(error) });
  const keys = await KeyRing.open(store, {
    secret: config.jwtSecret,
    refreshIntervalMs: SYNC_INTERVAL_MS,
    onRefreshError: onSyncError,
  });
  const revocations = await RevocationList.open(store, {
    syncIntervalMs: SYNC_INTERVAL_MS,
    onSyncError,
  });
  const pruning = setInterval(() => {
    store.pruneExpired(unixNow()).catch(onSyncError);
  }, PRUNE_INTERVAL_MS);
  Deno.unrefTimer(pruning);
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
      onError: createServeErrorHandler(logger),
    }, (req, info) => app.handler!(req, info))
  );
  const url = `https://${urlHost(config.host)}:${https.addr.port}`;
  const identity = publicIdentity(config, url);
  const tokens = new TokenService(keys, {
    issuer: identity.issuer,
    audience: identity.audience,
    ttlSeconds: config.accessTokenTtlSeconds,
    leewaySeconds: config.clockLeewaySeconds,
    maxTokenBytes: config.maxTokenBytes,
    revocations,
  });
  const sessions = new SessionService({ store, tokens, revocations }, {
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    scopes: config.scopes,
  });
  const throttle = new LoginThrottle(store, config.throttle);
  app.handler = createApp({
    config,
    identity,
    logger,
    keys,
    tokens,
    passwordLogin: new PasswordLogin({ store, hasher, throttle }),
    sessions,
    clients: new ClientRegistry(config.oauthClients, config.defaultClientId),
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
      revocations.close();
      clearInterval(pruning);
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
