/**
 * @module
 * Starting and stopping the service: opening the store and the services on it, the HTTPS
 * listener, the optional plain-HTTP redirect and metrics listeners, background sync and pruning,
 * certificate reload, draining and a graceful shutdown. A start that fails part way stops what it
 * had started.
 */
import { listen } from "./listen.ts";
import { createApp } from "./app.ts";
import { createAuditTrail } from "./audit.ts";
import { AuthorizationCodes } from "./auth/sign_in/authorization_codes.ts";
import { DeviceAuthorizations } from "./auth/sign_in/device_authorizations.ts";
import { UserCodeThrottle } from "./auth/sign_in/user_code_throttle.ts";
import { BrowserSessions } from "./auth/sign_in/browser_sessions.ts";
import { ClientRegistry } from "./auth/clients/registry.ts";
import { Consents } from "./auth/sign_in/consents.ts";
import { DeviceTokens } from "./auth/accounts/device_tokens.ts";
import { IdTokenKeys, IdTokens } from "./auth/sign_in/id_tokens.ts";
import { withOpenIdScopes } from "./auth/scopes.ts";
import { SigningKeys } from "./auth/tokens/signing_keys.ts";
import { PasswordLogin } from "./auth/accounts/password_login.ts";
import { Passwords } from "./auth/accounts/passwords.ts";
import { PendingRequests } from "./auth/sign_in/pending_requests.ts";
import { PushedRequests } from "./auth/sign_in/pushed_requests.ts";
import { Revocations } from "./auth/tokens/revocations.ts";
import { RefreshFamilies } from "./auth/tokens/refresh_families.ts";
import { LoginThrottle } from "./auth/accounts/throttle.ts";
import { SecondFactors } from "./auth/accounts/second_factors.ts";
import { Passkeys, relyingPartyOf } from "./auth/accounts/passkeys.ts";
import { AccountSessions } from "./auth/sign_in/account_sessions.ts";
import { PasswordChange } from "./auth/accounts/password_change.ts";
import { InvalidTokenBudget } from "./auth/tokens/invalid_token_budget.ts";
import { AccessTokens } from "./auth/tokens/access_tokens.ts";
import { DpopNonces } from "./auth/tokens/dpop_nonces.ts";
import { DpopProofs } from "./auth/tokens/dpop_proofs.ts";
import { DpopReplays } from "./auth/tokens/dpop_replays.ts";
import { userInfo } from "./auth/sign_in/userinfo.ts";
import { loadTlsFiles, type TlsFiles } from "./certs/load.ts";
import { unixNow } from "./clock.ts";
import { type Config, publicIdentity, urlHost } from "./config.ts";
import { createServeErrorHandler, type ServeHandler } from "./http/edge.ts";
import { RequestsInFlight } from "./http/in_flight.ts";
import { gracefulShutdown } from "./shutdown.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { createMetricsHandler, metricsUrlFor } from "./metrics_listener.ts";
import { createRedirectHandler } from "./redirect.ts";
import {
  type CertificateListener,
  listenWithReload,
  watchCertificateFiles,
} from "./tls_listener.ts";
import { StoreHealth } from "./store_health.ts";
import { openStore } from "./store/open.ts";
import type { Store } from "./store/store.ts";

/** A running service. */
export interface RunningServer extends AsyncDisposable {
  /** Base URL of the HTTPS listener, with the port actually bound. */
  url: string;
  /** Base URL of the plain-HTTP redirect listener, when enabled. */
  httpUrl?: string;
  /** URL of the metrics exposition, when enabled. */
  metricsUrl?: string;
  store: Store;
  tokens: AccessTokens;
  /**
   * Re-reads `TLS_CERT` and `TLS_KEY`; new connections get the new pair while existing ones finish.
   * A pair that fails the start-up checks is refused with one log line and the old one keeps
   * serving; the pair already served is not loaded again. Resolves to whether the pair read is in
   * use.
   */
  reloadCertificate(trigger: string): Promise<boolean>;
  /**
   * Answers not-ready at once, keeps serving for the drain delay, then shuts down. Calling it
   * again returns the same drain: it never shortens the delay.
   */
  drain(): Promise<void>;
  /**
   * Stops accepting, lets in-flight requests finish within the shutdown bound, closes the store.
   * Calling it during a drain skips the rest of the delay; calling it again returns the same
   * shutdown.
   */
  shutdown(): Promise<void>;
}

/** Services that tests may replace. */
export interface ServerOverrides {
  hasher?: Passwords;
  store?: Store;
}

/** How often signing keys and revocations are re-read, for changes made by other processes. */
const SYNC_INTERVAL_MS = 1000;
/** How often expired refresh tokens, revocations and throttle entries are deleted. */
const PRUNE_INTERVAL_MS = 10 * 60 * 1000;

/** The store and what lives on it, before any listener. */
interface Services {
  store: Store;
  /** Whether the store answers, for readiness and the metrics. */
  storeHealth: StoreHealth;
  metrics?: Metrics;
  keys: SigningKeys;
  idTokenKeys: IdTokenKeys;
  revocations: Revocations;
  devices: DeviceTokens;
  hasher: Passwords;
  /** The DPoP nonces every instance makes and accepts alike. */
  dpopNonces: DpopNonces;
  /** Stops the background work and closes the store. */
  close(): Promise<void>;
}

/**
 * Starts the HTTPS service (and the optional redirect listener) from a validated config.
 *
 * @example
 * ```ts
 * await using server = await startServer(loadConfig([], readEnvironment()), logger);
 * ```
 */
export async function startServer(
  config: Config,
  logger: Logger,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  const tls = await loadTlsFiles(config.tlsCert, config.tlsKey);
  const services = await openServices(config, logger, overrides);
  const listeners: { shutdown(): Promise<void> }[] = [];
  try {
    // The app is built once the port is bound, since the default issuer names the real port;
    // no request can arrive before this function's next await.
    const app: { handler?: ServeHandler } = {};
    let draining: Promise<void> | undefined;
    let closing = false;
    const inFlight = new RequestsInFlight();
    const https = listenHttps(
      config,
      tls,
      logger,
      inFlight.track((req, info) => app.handler!(req, info)),
    );
    listeners.push(https);
    const url = `https://${urlHost(config.host)}:${https.port}`;
    const { handler, tokens, throttle } = buildApp(config, logger, services, {
      listeningUrl: url,
      draining: () => draining !== undefined || closing,
      closing: () => closing,
    });
    app.handler = handler;
    const http = listenRedirect(config, https.port);
    if (http) listeners.push(http);
    const httpUrl = http && `http://${urlHost(config.host)}:${http.addr.port}`;
    const metricsListener = listenMetrics(config, services.metrics);
    if (metricsListener) listeners.push(metricsListener);
    const metricsUrl = metricsListener &&
      metricsUrlFor(metricsListener.addr.hostname, metricsListener.addr.port);
    logger.log("info", "Listening", {
      url,
      http_url: httpUrl,
      metrics_url: metricsUrl,
      signing_alg: services.keys.signingKey().alg,
      certificate_reload: https.reload,
    });
    logger.flush();
    const reloadCertificate = (trigger: string) =>
      https.reloadFrom(config.tlsCert, config.tlsKey, trigger);
    listeners.push(
      watchCertificateFiles(
        [config.tlsCert, config.tlsKey],
        () => reloadCertificate("file change"),
      ),
    );
    const shutdown = gracefulShutdown(config, logger, {
      listeners,
      services,
      inFlight,
      onClosing: () => {
        closing = true;
        // A login waiting for its turn must not outlast the shutdown: it is answered 503.
        throttle.stopWaiting();
      },
    });
    return {
      url,
      httpUrl,
      metricsUrl,
      store: services.store,
      tokens,
      reloadCertificate,
      drain() {
        // One drain however often it is asked for: a repeated SIGTERM (systemd's default
        // KillMode signals both `deno task` and the server, and `deno task` forwards its own)
        // must not cut the delay short.
        draining ??= (async () => {
          logger.log("info", "Draining", { delay_ms: config.drainDelayMs });
          await new Promise((resolve) => setTimeout(resolve, config.drainDelayMs));
          await shutdown();
        })();
        return draining;
      },
      shutdown,
      [Symbol.asyncDispose]: shutdown,
    };
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.shutdown()));
    await services.close();
    throw error;
  }
}

async function openServices(
  config: Config,
  logger: Logger,
  overrides: ServerOverrides,
): Promise<Services> {
  const metrics = config.metricsPort === undefined ? undefined : new Metrics();
  const opened = overrides.store ?? await openStore(config.databaseUrl, {
    rootCertFile: config.databaseRootCert,
    warn: (message) => logger.log("warn", message),
  });
  const store = metrics ? metrics.measureStore(opened) : opened;
  const onSyncError = (error: unknown) =>
    logger.log("warn", "Cannot read the store", { error: String(error) });
  let keys: SigningKeys | undefined;
  let revocations: Revocations | undefined;
  let devices: DeviceTokens;
  let idTokenKeys: IdTokenKeys;
  let dpopNonces: DpopNonces;
  try {
    keys = await SigningKeys.open(store, {
      secret: config.jwtSecret,
      alg: config.jwtAlg,
      refreshIntervalMs: SYNC_INTERVAL_MS,
      onRefreshError: onSyncError,
    });
    revocations = await Revocations.open(store, {
      syncIntervalMs: SYNC_INTERVAL_MS,
      onSyncError,
    });
    devices = await DeviceTokens.open(store, config.deviceTokens);
    idTokenKeys = await IdTokenKeys.open(store);
    dpopNonces = await DpopNonces.open(store);
    await markConfiguredClientsFamilies(config, logger, store);
  } catch (error) {
    keys?.close();
    revocations?.close();
    await store.close();
    throw error;
  }
  const signingAlg = keys.signingKey().alg;
  if (!keys.symmetric && signingAlg !== config.jwtAlg) {
    logger.log("warn", "The current signing key is not of JWT_ALG; run keys rotate to switch", {
      jwt_alg: config.jwtAlg,
      signing_alg: signingAlg,
    });
  }
  const pruning = setInterval(() => {
    store.pruneExpired(unixNow()).catch(onSyncError);
  }, PRUNE_INTERVAL_MS);
  Deno.unrefTimer(pruning);
  const hasher = overrides.hasher ?? new Passwords(config.passwordIterations);
  // Runs in the background; the first unknown-user login awaits it.
  hasher.prepare(
    store.countPasswordIterations().catch((error) => {
      onSyncError(error);
      return new Map();
    }),
  );
  const ready = { keys, revocations };
  const storeHealth = new StoreHealth(() => store.ping(), logger);
  metrics?.observeStoreHealth(storeHealth);
  return {
    store,
    storeHealth,
    metrics,
    ...ready,
    devices,
    idTokenKeys,
    hasher,
    dpopNonces,
    async close() {
      clearInterval(pruning);
      storeHealth.close();
      metrics?.close();
      ready.keys.close();
      ready.revocations.close();
      await store.close();
    },
  };
}

/**
 * Marks the live refresh families of the clients in `OAUTH_CLIENTS` as a confidential client's:
 * families written before families were marked, or by an instance that did not mark them, would
 * otherwise refresh as a public client's once the client is dropped from `OAUTH_CLIENTS`.
 */
async function markConfiguredClientsFamilies(
  config: Config,
  logger: Logger,
  store: Store,
): Promise<void> {
  const marked = await store.markConfidentialFamilies(Object.keys(config.oauthClients), unixNow());
  if (marked > 0) {
    logger.log("info", "Marked refresh families of OAUTH_CLIENTS as confidential", {
      families: marked,
    });
  }
}

function buildApp(
  config: Config,
  logger: Logger,
  services: Services,
  { listeningUrl, draining, closing }: {
    listeningUrl: string;
    draining: () => boolean;
    closing: () => boolean;
  },
): { handler: ServeHandler; tokens: AccessTokens; throttle: LoginThrottle } {
  const { store, storeHealth, keys, idTokenKeys, revocations, devices, hasher, metrics } = services;
  const identity = publicIdentity(config, listeningUrl);
  const tokens = new AccessTokens(keys, {
    issuer: identity.issuer,
    audience: identity.audience,
    ttlSeconds: config.accessTokenTtlSeconds,
    leewaySeconds: config.clockLeewaySeconds,
    maxTokenBytes: config.maxTokenBytes,
    revocations,
    invalidTokenBudget: new InvalidTokenBudget(config.invalidTokenBudget),
  });
  const clients = new ClientRegistry(config.oauthClients, config.defaultClientId, {
    introspectors: config.oauthIntrospectors,
    store,
  });
  metrics?.observeTokens(tokens);
  metrics?.observeBuild(() => keys.signingKey().alg);
  const events = createAuditTrail(logger, metrics);
  // The OpenID Connect scopes can be asked for; the default scope stays as configured.
  const policy = withOpenIdScopes(config.scopes);
  const families = new RefreshFamilies({ store, tokens, revocations, clients, events }, {
    refreshTtlSeconds: config.refreshTokenTtlSeconds,
    refreshIdleTtlSeconds: config.refreshTokenIdleTtlSeconds,
    scopes: policy,
  });
  const throttle = new LoginThrottle(store, config.throttle);
  const passkeys = new Passkeys({
    store,
    events,
    relyingParty: relyingPartyOf(identity.publicUrl),
  });
  const secondFactors = new SecondFactors({
    store,
    throttle,
    events,
    issuer: identity.issuer,
    passkeys,
  });
  const idTokens = new IdTokens(idTokenKeys, {
    issuer: identity.issuer,
    ttlSeconds: config.accessTokenTtlSeconds,
    leewaySeconds: config.clockLeewaySeconds,
  });
  const browserSessions = new BrowserSessions(
    { store, families, events },
    config.browserSession,
  );
  const passwordLogin = new PasswordLogin({
    store,
    hasher,
    throttle,
    devices,
    events,
    secondFactors,
    onUnusableHash: (user, problem) =>
      logger.log(
        "error",
        "Stored password hash cannot be checked; logins fail until it is reset",
        {
          user,
          problem,
          fix: `deno task user passwd ${user}`,
        },
      ),
  });

  const dpop = new DpopProofs(
    { replays: new DpopReplays(store), nonces: services.dpopNonces, events },
    { publicUrl: identity.publicUrl, nonceRequired: config.dpopNonceRequired },
  );
  const handler = createApp({
    config,
    identity,
    logger,
    keys,
    tokens,
    passwordLogin,
    families,
    clients,
    signIn: {
      policy,
      idTokens,
      pending: new PendingRequests(store),
      browserSessions,
      consents: new Consents(store),
      secondFactors,
      accountSessions: new AccountSessions({ store, browserSessions, families, clients, events }),
      passwordChange: new PasswordChange({ store, hasher, passwordLogin, events }),
      codes: new AuthorizationCodes({ store, families, idTokens, browserSessions, events }),
      userInfo: (claims) => userInfo(claims, store),
      pushed: new PushedRequests({ store, policy, events }),
      devices: new DeviceAuthorizations({
        store,
        families,
        idTokens,
        browserSessions,
        policy,
        events,
      }),
      userCodeThrottle: new UserCodeThrottle(store),
      passkeys,
    },
    readiness: {
      storeState: () => storeHealth.check(),
      hasSigningKey: () => keys.signingKey() !== undefined,
      draining,
    },
    observer: metrics?.requestObserver,
    closing,
    dpop,
  });
  return { handler, tokens, throttle };
}

function listenHttps(
  config: Config,
  tls: TlsFiles,
  logger: Logger,
  handler: ServeHandler,
): CertificateListener {
  return listen({ setting: "PORT", host: config.host, port: config.port }, () =>
    listenWithReload({
      hostname: config.host,
      port: config.port,
      tls,
      logger,
      handler,
      onError: createServeErrorHandler(logger),
    }));
}

function listenMetrics(
  config: Config,
  metrics: Metrics | undefined,
): Deno.HttpServer<Deno.NetAddr> | undefined {
  if (config.metricsPort === undefined || !metrics) return undefined;
  const port = config.metricsPort;
  return listen({ setting: "METRICS_PORT", host: config.metricsHost, port }, () =>
    Deno.serve(
      { hostname: config.metricsHost, port, onListen() {} },
      createMetricsHandler(metrics),
    ));
}

function listenRedirect(
  config: Config,
  httpsPort: number,
): Deno.HttpServer<Deno.NetAddr> | undefined {
  if (config.httpPort === undefined) return undefined;
  const port = config.httpPort;
  return listen({ setting: "HTTP_PORT", host: config.host, port }, () =>
    Deno.serve(
      { hostname: config.host, port, onListen() {} },
      createRedirectHandler(config.publicUrl ?? `https://${urlHost(config.host)}:${httpsPort}`),
    ));
}
