/**
 * @module
 * Reads flags and environment variables once, at start, into one validated {@linkcode Config}.
 * Every default is a named constant in config_defaults.ts or beside the service that owns it;
 * every problem is one {@linkcode ConfigError} line naming the setting. It reads the variables it
 * is handed, never the environment itself.
 */
import { CLIENT_ID } from "./auth/clients/registry.ts";
import { DEFAULT_DEVICE_TOKENS } from "./auth/accounts/device_tokens.ts";
import { DEFAULT_SIGNING_ALG, SIGNING_ALGS, type SigningAlg } from "./auth/tokens/signing_keys.ts";
import { MIN_PBKDF2_ITERATIONS } from "./auth/accounts/passwords.ts";
import { HELLO_SCOPE, SCOPE_TOKEN, type ScopePolicy } from "./auth/scopes.ts";
import { DEFAULT_THROTTLE, type ThrottleOptions } from "./auth/accounts/throttle.ts";
import {
  DEFAULT_INVALID_TOKENS_PER_MINUTE,
  DEFAULT_MAX_TRACKED_ADDRESSES,
} from "./auth/tokens/invalid_token_budget.ts";
import {
  type BrowserSessionOptions,
  DEFAULT_BROWSER_SESSION,
} from "./auth/sign_in/browser_sessions.ts";
import { DEFAULT_TLS_CERT, DEFAULT_TLS_KEY } from "./certs/default_paths.ts";
import { MINUTE_SECONDS } from "./clock.ts";
import type { Config } from "./config.ts";
import {
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  DEFAULT_BODY_TIMEOUT_SECONDS,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLOCK_LEEWAY_SECONDS,
  DEFAULT_DATABASE_URL,
  DEFAULT_DRAIN_DELAY_SECONDS,
  DEFAULT_HOST,
  DEFAULT_LOG_LEVEL,
  DEFAULT_METRICS_HOST,
  DEFAULT_PORT,
  DEFAULT_REALM,
  DEFAULT_REFRESH_TOKEN_IDLE_TTL_SECONDS,
  DEFAULT_REFRESH_TOKEN_TTL_SECONDS,
  DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
  MAX_ACCESS_TOKEN_TTL_SECONDS,
  MAX_BODY_BYTES,
  MAX_BODY_TIMEOUT_SECONDS,
  MAX_CLOCK_LEEWAY_SECONDS,
  MAX_COOKIE_SECONDS,
  MAX_DRAIN_DELAY_SECONDS,
  MAX_REFRESH_TOKEN_TTL_SECONDS,
  MAX_SHUTDOWN_TIMEOUT_SECONDS,
  MAX_THROTTLE_BASE_DELAY_SECONDS,
  MAX_THROTTLE_IN_FLIGHT_WAIT_SECONDS,
  MAX_THROTTLE_MAX_DELAY_SECONDS,
  MAX_TOKEN_BYTES,
  MIN_SECRET_BYTES,
} from "./config_defaults.ts";
import type { Env } from "./config_environment.ts";
import {
  boolean,
  byteLength,
  ConfigError,
  httpsUrl,
  integer,
  portNumber,
  seconds,
} from "./config_values.ts";
import {
  type ClientAddressOptions,
  DEFAULT_CLIENT_ADDRESS,
  type ProxyHeader,
} from "./http/client_address.ts";
import type { LogLevel } from "./log.ts";
import { type IpRange, parseIpRange } from "./net/ip.ts";
import { SERVE_COMMAND } from "./serve_command.ts";
import { parseCommandLine } from "./usage.ts";

/** A dotted-quad IPv4 address, each part 0 to 255 without leading zeros. */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/**
 * Reads the configuration from flags (`--port`, `--host`, `--dev`) and environment variables.
 *
 * @example
 * ```ts
 * const config = loadConfig(["--port", "9443"], readEnvironment());
 * ```
 */
export function loadConfig(args: string[], env: Env): Config {
  const flags = readFlags(args);
  const host = readHost(flags.host ?? (env.HOST || DEFAULT_HOST));
  const identity = readIdentity(env);
  const port = portNumber("PORT", flags.port ?? env.PORT, DEFAULT_PORT);
  const httpPort = readRedirectPort(env.HTTP_PORT, host, identity.publicUrl);
  if (httpPort !== undefined && httpPort !== 0 && httpPort === port) {
    throw new ConfigError(
      `HTTP_PORT must differ from the HTTPS port (PORT or --port), both are ${port}; choose another HTTP_PORT`,
    );
  }
  return {
    host,
    port,
    httpPort,
    metricsPort: env.METRICS_PORT ? portNumber("METRICS_PORT", env.METRICS_PORT, 0) : undefined,
    metricsHost: env.METRICS_HOST || DEFAULT_METRICS_HOST,
    check: flags.check,
    tlsCert: env.TLS_CERT || DEFAULT_TLS_CERT,
    tlsKey: env.TLS_KEY || DEFAULT_TLS_KEY,
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
    databaseRootCert: env.PGSSLROOTCERT || undefined,
    dev: flags.dev,
    ...identity,
    ...readTokenSettings(env),
    scopes: readScopePolicy(env.OAUTH_SCOPES, env.DEFAULT_SCOPE),
    ...readClients(env.OAUTH_CLIENTS, env.OAUTH_INTROSPECTORS),
    defaultClientId: DEFAULT_CLIENT_ID,
    passwordIterations: integer("PASSWORD_ITERATIONS", env.PASSWORD_ITERATIONS, {
      fallback: MIN_PBKDF2_ITERATIONS,
      min: MIN_PBKDF2_ITERATIONS,
    }),
    throttle: readThrottle(env),
    deviceTokens: {
      ttlSeconds: seconds("DEVICE_TOKEN_TTL", env.DEVICE_TOKEN_TTL, {
        fallback: DEFAULT_DEVICE_TOKENS.ttlSeconds,
        min: MINUTE_SECONDS,
        max: MAX_COOKIE_SECONDS,
      }),
    },
    clientAddress: readClientAddress(env),
    invalidTokenBudget: {
      perMinute: integer("INVALID_TOKEN_BUDGET_PER_MINUTE", env.INVALID_TOKEN_BUDGET_PER_MINUTE, {
        fallback: DEFAULT_INVALID_TOKENS_PER_MINUTE,
        min: 1,
      }),
      maxTrackedAddresses: DEFAULT_MAX_TRACKED_ADDRESSES,
    },
    browserSession: readBrowserSession(env),
    maxBodyBytes: MAX_BODY_BYTES,
    bodyTimeoutMs: 1000 * seconds("BODY_TIMEOUT", env.BODY_TIMEOUT, {
      fallback: DEFAULT_BODY_TIMEOUT_SECONDS,
      min: 1,
      max: MAX_BODY_TIMEOUT_SECONDS,
    }),
    shutdownTimeoutMs: 1000 * seconds("SHUTDOWN_TIMEOUT", env.SHUTDOWN_TIMEOUT, {
      fallback: DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
      min: 0,
      max: MAX_SHUTDOWN_TIMEOUT_SECONDS,
    }),
    drainDelayMs: 1000 * seconds("DRAIN_DELAY", env.DRAIN_DELAY, {
      fallback: DEFAULT_DRAIN_DELAY_SECONDS,
      min: 0,
      max: MAX_DRAIN_DELAY_SECONDS,
    }),
    logHealthChecks: boolean("LOG_HEALTH_CHECKS", env.LOG_HEALTH_CHECKS),
    mfaRequired: boolean("MFA_REQUIRED", env.MFA_REQUIRED),
    logLevel: readLogLevel(env.LOG_LEVEL),
    realm: env.AUTH_REALM || DEFAULT_REALM,
    dpopNonceRequired: boolean("DPOP_NONCE", env.DPOP_NONCE),
    parRequired: boolean("REQUIRE_PAR", env.REQUIRE_PAR),
  };
}

function readFlags(
  args: string[],
): { port?: string; host?: string; dev: boolean; check: boolean } {
  let invocation;
  try {
    invocation = parseCommandLine(SERVE_COMMAND, args);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (invocation.help !== undefined) throw new ConfigError("--help is not a setting");
  const { values } = invocation;
  return {
    port: values.port as string | undefined,
    host: values.host as string | undefined,
    dev: values.dev === true,
    check: values.check === true,
  };
}

/**
 * `HTTP_PORT`: the redirect listener sends clients to PUBLIC_URL, else to HOST (never to the
 * host a request names), so a wildcard HOST needs PUBLIC_URL.
 */
function readRedirectPort(
  value: string | undefined,
  host: string,
  publicUrl: string | undefined,
): number | undefined {
  if (!value) return undefined;
  const port = portNumber("HTTP_PORT", value, 0);
  if (publicUrl === undefined && (host === "0.0.0.0" || host === "::")) {
    throw new ConfigError(
      `HTTP_PORT with HOST "${host}" needs PUBLIC_URL, the https:// address its redirects name`,
    );
  }
  return port;
}

/**
 * Checks what can be checked of `HOST` without a lookup: text that looks like an IPv4 address
 * but is not one would otherwise be sent to DNS as a name.
 */
function readHost(host: string): string {
  if (/^[\d.]+$/.test(host) && !IPV4.test(host)) {
    throw new ConfigError(
      `HOST "${host}" is not an IPv4 address (four numbers from 0 to 255); set HOST (or --host) to an address of this machine, "localhost", or "0.0.0.0" for all`,
    );
  }
  return host;
}

function readIdentity(env: Env): Pick<Config, "publicUrl" | "issuer" | "audience"> {
  return {
    publicUrl: httpsUrl("PUBLIC_URL", env.PUBLIC_URL),
    issuer: env.JWT_ISSUER || undefined,
    audience: env.JWT_AUDIENCE || undefined,
  };
}

type TokenSettings = Pick<
  Config,
  | "jwtSecret"
  | "jwtAlg"
  | "jwtAlgSet"
  | "accessTokenTtlSeconds"
  | "refreshTokenTtlSeconds"
  | "refreshTokenIdleTtlSeconds"
  | "clockLeewaySeconds"
  | "maxTokenBytes"
>;

function readTokenSettings(env: Env): TokenSettings {
  const jwtSecret = env.JWT_SECRET || undefined;
  if (jwtSecret !== undefined && byteLength(jwtSecret) < MIN_SECRET_BYTES) {
    throw new ConfigError(
      `JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes; generate one with: openssl rand -base64 48`,
    );
  }
  const refreshTokenTtlSeconds = seconds("REFRESH_TOKEN_TTL", env.REFRESH_TOKEN_TTL, {
    fallback: DEFAULT_REFRESH_TOKEN_TTL_SECONDS,
    min: MINUTE_SECONDS,
    max: MAX_REFRESH_TOKEN_TTL_SECONDS,
  });
  return {
    jwtSecret,
    jwtAlg: readSigningAlg(env.JWT_ALG, jwtSecret),
    jwtAlgSet: Boolean(env.JWT_ALG),
    accessTokenTtlSeconds: seconds("ACCESS_TOKEN_TTL", env.ACCESS_TOKEN_TTL, {
      fallback: DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
      min: 1,
      max: MAX_ACCESS_TOKEN_TTL_SECONDS,
    }),
    refreshTokenTtlSeconds,
    refreshTokenIdleTtlSeconds: seconds("REFRESH_TOKEN_IDLE_TTL", env.REFRESH_TOKEN_IDLE_TTL, {
      fallback: Math.min(DEFAULT_REFRESH_TOKEN_IDLE_TTL_SECONDS, refreshTokenTtlSeconds),
      min: MINUTE_SECONDS,
      max: refreshTokenTtlSeconds,
      maxName: "REFRESH_TOKEN_TTL",
    }),
    clockLeewaySeconds: seconds("JWT_LEEWAY", env.JWT_LEEWAY, {
      fallback: DEFAULT_CLOCK_LEEWAY_SECONDS,
      min: 0,
      max: MAX_CLOCK_LEEWAY_SECONDS,
    }),
    maxTokenBytes: MAX_TOKEN_BYTES,
  };
}

function readSigningAlg(value: string | undefined, jwtSecret: string | undefined): SigningAlg {
  if (!value) return DEFAULT_SIGNING_ALG;
  if (!(SIGNING_ALGS as readonly string[]).includes(value)) {
    throw new ConfigError(`JWT_ALG must be one of ${SIGNING_ALGS.join(", ")}, not "${value}"`);
  }
  if (jwtSecret !== undefined) {
    throw new ConfigError("JWT_ALG names a key-pair algorithm; unset it when JWT_SECRET is set");
  }
  return value as SigningAlg;
}

function readThrottle(env: Env): ThrottleOptions {
  return {
    freeFailures: integer("THROTTLE_FREE_FAILURES", env.THROTTLE_FREE_FAILURES, {
      fallback: DEFAULT_THROTTLE.freeFailures,
      min: 0,
    }),
    baseDelaySeconds: seconds("THROTTLE_BASE_DELAY", env.THROTTLE_BASE_DELAY, {
      fallback: DEFAULT_THROTTLE.baseDelaySeconds,
      min: 1,
      max: MAX_THROTTLE_BASE_DELAY_SECONDS,
    }),
    maxDelaySeconds: seconds("THROTTLE_MAX_DELAY", env.THROTTLE_MAX_DELAY, {
      fallback: DEFAULT_THROTTLE.maxDelaySeconds,
      min: 1,
      max: MAX_THROTTLE_MAX_DELAY_SECONDS,
    }),
    resetAfterSeconds: DEFAULT_THROTTLE.resetAfterSeconds,
    addressFailuresPerMinute: integer(
      "THROTTLE_ADDRESS_FAILURES_PER_MINUTE",
      env.THROTTLE_ADDRESS_FAILURES_PER_MINUTE,
      { fallback: DEFAULT_THROTTLE.addressFailuresPerMinute, min: 1 },
    ),
    deviceFailures: integer("THROTTLE_DEVICE_FAILURES", env.THROTTLE_DEVICE_FAILURES, {
      fallback: DEFAULT_THROTTLE.deviceFailures,
      min: 1,
    }),
    inFlightWaitMs: 1000 * seconds("THROTTLE_IN_FLIGHT_WAIT", env.THROTTLE_IN_FLIGHT_WAIT, {
      fallback: DEFAULT_THROTTLE.inFlightWaitMs / 1000,
      min: 0,
      max: MAX_THROTTLE_IN_FLIGHT_WAIT_SECONDS,
    }),
  };
}

const PROXY_HEADERS: readonly ProxyHeader[] = ["x-forwarded-for", "forwarded"];

function readClientAddress(env: Env): ClientAddressOptions {
  const header = (env.TRUSTED_PROXY_HEADER || DEFAULT_CLIENT_ADDRESS.proxyHeader).toLowerCase();
  if (!PROXY_HEADERS.includes(header as ProxyHeader)) {
    throw new ConfigError(
      `TRUSTED_PROXY_HEADER must be one of ${
        PROXY_HEADERS.join(", ")
      }, not "${env.TRUSTED_PROXY_HEADER}"`,
    );
  }
  return {
    trustedProxies: readRanges(env.TRUSTED_PROXIES),
    proxyHeader: header as ProxyHeader,
    ipv6PrefixLength: integer("IPV6_PREFIX_LENGTH", env.IPV6_PREFIX_LENGTH, {
      fallback: DEFAULT_CLIENT_ADDRESS.ipv6PrefixLength,
      min: 1,
      max: 128,
    }),
  };
}

/** `TRUSTED_PROXIES`: addresses and CIDR ranges, IPv4 or IPv6, separated by commas or spaces. */
function readRanges(value: string | undefined): IpRange[] {
  return (value ?? "").split(/[\s,]+/).filter(Boolean).map((entry) => {
    const range = parseIpRange(entry);
    if (!range) {
      throw new ConfigError(
        `TRUSTED_PROXIES has "${entry}", which is neither an IP address nor a CIDR range`,
      );
    }
    return range;
  });
}

function readBrowserSession(env: Env): BrowserSessionOptions {
  return {
    idleSeconds: seconds("BROWSER_SESSION_IDLE", env.BROWSER_SESSION_IDLE, {
      fallback: DEFAULT_BROWSER_SESSION.idleSeconds,
      min: MINUTE_SECONDS,
      max: MAX_COOKIE_SECONDS,
    }),
    maxSeconds: seconds("BROWSER_SESSION_MAX", env.BROWSER_SESSION_MAX, {
      fallback: DEFAULT_BROWSER_SESSION.maxSeconds,
      min: MINUTE_SECONDS,
      max: MAX_COOKIE_SECONDS,
    }),
  };
}

function readLogLevel(value: string | undefined): LogLevel {
  const level = (value ?? DEFAULT_LOG_LEVEL).toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, not "${value}"`);
  }
  return level;
}

/** `OAUTH_SCOPES` (comma or space separated) and `DEFAULT_SCOPE` as a checked policy. */
function readScopePolicy(list: string | undefined, fallback: string | undefined): ScopePolicy {
  const supported = [...new Set((list || HELLO_SCOPE).split(/[\s,]+/).filter(Boolean))];
  for (const scope of supported) {
    if (!SCOPE_TOKEN.test(scope)) {
      throw new ConfigError(`OAUTH_SCOPES has an invalid scope "${scope}"`);
    }
  }
  const defaultScope = fallback || supported.join(" ");
  for (const scope of defaultScope.split(" ")) {
    if (!supported.includes(scope)) {
      throw new ConfigError(`DEFAULT_SCOPE "${scope}" is not in OAUTH_SCOPES`);
    }
  }
  return { supported, defaultScope };
}

function readClients(
  value: string | undefined,
  introspectorList: string | undefined,
): Pick<Config, "oauthClients" | "oauthIntrospectors"> {
  const clients: Record<string, string> = {};
  for (const entry of (value ?? "").split(",").map((part) => part.trim()).filter(Boolean)) {
    const colon = entry.indexOf(":");
    const id = entry.slice(0, colon);
    const secret = entry.slice(colon + 1);
    if (colon < 1 || !CLIENT_ID.test(id)) {
      throw new ConfigError("OAUTH_CLIENTS must be a comma-separated list of id:secret pairs");
    }
    if (id === DEFAULT_CLIENT_ID) {
      throw new ConfigError(
        `OAUTH_CLIENTS cannot list "${id}": it is the public client of /login and of requests that name no client`,
      );
    }
    if (byteLength(secret) < MIN_SECRET_BYTES) {
      throw new ConfigError(
        `OAUTH_CLIENTS: the secret of "${id}" must be at least ${MIN_SECRET_BYTES} bytes`,
      );
    }
    clients[id] = secret;
  }
  const introspectors = (introspectorList ?? "").split(",").map((id) => id.trim())
    .filter(Boolean);
  for (const id of introspectors) {
    if (!Object.hasOwn(clients, id)) {
      throw new ConfigError(`OAUTH_INTROSPECTORS names "${id}", which is not in OAUTH_CLIENTS`);
    }
  }
  return { oauthClients: clients, oauthIntrospectors: introspectors };
}
