import { parseArgs } from "node:util";
import { CLIENT_ID } from "./auth/clients.ts";
import { MIN_PBKDF2_ITERATIONS } from "./auth/passwords.ts";
import { SCOPE_TOKEN } from "./auth/scopes.ts";
import type { LogLevel } from "./log.ts";

/** Login throttling thresholds. */
export interface ThrottleConfig {
  /** Consecutive failures per account before any wait. */
  freeFailures: number;
  /** First wait after the free failures, doubling with each further failure. */
  baseDelayMs: number;
  /** Longest wait for one account. */
  maxDelayMs: number;
  /** An account's failure count is forgotten after this long without failures. */
  resetAfterMs: number;
  /** Failed logins allowed from one client address per minute. */
  addressFailuresPerMinute: number;
}

/** Everything the service reads from its environment, validated once at start. */
export interface Config {
  host: string;
  port: number;
  /** Port of the plain-HTTP listener that only redirects to HTTPS; off when undefined. */
  httpPort?: number;
  tlsCert: string;
  tlsKey: string;
  databaseUrl: string;
  /** Development mode: make a certificate when none exists and seed demo users. */
  dev: boolean;
  /** The URL clients use to reach this service; by default the HTTPS listener's own URL. */
  publicUrl?: string;
  /** `iss` of tokens; by default the public URL. */
  issuer?: string;
  /** `aud` of tokens; by default the public URL. */
  audience?: string;
  /** HS256 shared secret; ES256 key pairs kept in the store are used when absent. */
  jwtSecret?: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Scopes clients may ask for, and the one granted when they ask for none. */
  scopes: { supported: string[]; defaultScope: string };
  /** Confidential OAuth clients: id → secret. */
  oauthClients: Record<string, string>;
  /** Client id recorded for sessions started through `/login`. */
  defaultClientId: string;
  clockLeewaySeconds: number;
  maxTokenBytes: number;
  passwordIterations: number;
  throttle: ThrottleConfig;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  shutdownTimeoutMs: number;
  logLevel: LogLevel;
  /** Realm named in `WWW-Authenticate`. */
  realm: string;
}

/** How the service names itself in tokens. */
export interface PublicIdentity {
  publicUrl: string;
  issuer: string;
  audience: string;
}

/**
 * Resolves the public URL, issuer and audience: configured values, else the URL the HTTPS
 * listener actually bound (known only after binding when the port is 0).
 */
export function publicIdentity(config: Config, listeningUrl: string): PublicIdentity {
  const publicUrl = config.publicUrl ?? listeningUrl;
  return {
    publicUrl,
    issuer: config.issuer ?? publicUrl,
    audience: config.audience ?? publicUrl,
  };
}

/** A configuration problem, reported as one line. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/**
 * Reads the configuration from flags (`--port`, `--host`, `--dev`) and environment variables.
 *
 * @example
 * ```ts
 * const config = loadConfig(["--port", "9443"], Deno.env.toObject());
 * ```
 */
export function loadConfig(args: string[], env: Record<string, string | undefined>): Config {
  let flags;
  try {
    flags = parseArgs({
      args,
      strict: true,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        dev: { type: "boolean", default: false },
      },
    }).values;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const host = flags.host ?? env.HOST ?? "localhost";
  const port = portNumber("PORT", flags.port ?? env.PORT, 8443);
  const publicUrl = url("PUBLIC_URL", env.PUBLIC_URL);
  const jwtSecret = env.JWT_SECRET || undefined;
  if (jwtSecret !== undefined && new TextEncoder().encode(jwtSecret).length < 32) {
    throw new ConfigError(
      "JWT_SECRET must be at least 32 bytes; generate one with: openssl rand -base64 48",
    );
  }
  const passwordIterations = integer("PASSWORD_ITERATIONS", env.PASSWORD_ITERATIONS, {
    fallback: MIN_PBKDF2_ITERATIONS,
    min: MIN_PBKDF2_ITERATIONS,
  });
  const logLevel = (env.LOG_LEVEL ?? "info").toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, not "${env.LOG_LEVEL}"`,
    );
  }
  const scopes = parseScopes(env.OAUTH_SCOPES, env.DEFAULT_SCOPE);
  return {
    host,
    port,
    httpPort: env.HTTP_PORT ? portNumber("HTTP_PORT", env.HTTP_PORT, 0) : undefined,
    tlsCert: env.TLS_CERT || "certs/cert.pem",
    tlsKey: env.TLS_KEY || "certs/key.pem",
    databaseUrl: env.DATABASE_URL || "sqlite:data/auth.db",
    dev: flags.dev,
    publicUrl,
    issuer: env.JWT_ISSUER || undefined,
    audience: env.JWT_AUDIENCE || undefined,
    jwtSecret,
    accessTokenTtlSeconds: integer("ACCESS_TOKEN_TTL", env.ACCESS_TOKEN_TTL, {
      fallback: 900,
      min: 1,
    }),
    refreshTokenTtlSeconds: integer("REFRESH_TOKEN_TTL", env.REFRESH_TOKEN_TTL, {
      fallback: 30 * 24 * 3600,
      min: 60,
    }),
    scopes,
    oauthClients: parseClients(env.OAUTH_CLIENTS),
    defaultClientId: "auth-api",
    clockLeewaySeconds: integer("JWT_LEEWAY", env.JWT_LEEWAY, { fallback: 30, min: 0, max: 300 }),
    maxTokenBytes: 8192,
    passwordIterations,
    throttle: {
      freeFailures: integer("THROTTLE_FREE_FAILURES", env.THROTTLE_FREE_FAILURES, {
        fallback: 5,
        min: 0,
      }),
      baseDelayMs: 1000 * integer("THROTTLE_BASE_DELAY", env.THROTTLE_BASE_DELAY, {
        fallback: 1,
        min: 1,
      }),
      maxDelayMs: 1000 * integer("THROTTLE_MAX_DELAY", env.THROTTLE_MAX_DELAY, {
        fallback: 900,
        min: 1,
      }),
      resetAfterMs: 3_600_000,
      addressFailuresPerMinute: integer(
        "THROTTLE_ADDRESS_FAILURES_PER_MINUTE",
        env.THROTTLE_ADDRESS_FAILURES_PER_MINUTE,
        { fallback: 30, min: 1 },
      ),
    },
    maxBodyBytes: 16 * 1024,
    bodyTimeoutMs: 1000 * integer("BODY_TIMEOUT", env.BODY_TIMEOUT, { fallback: 10, min: 1 }),
    shutdownTimeoutMs: 1000 * integer("SHUTDOWN_TIMEOUT", env.SHUTDOWN_TIMEOUT, {
      fallback: 10,
      min: 0,
    }),
    logLevel,
    realm: env.AUTH_REALM || "auth-api",
  };
}

function parseScopes(
  list: string | undefined,
  fallback: string | undefined,
): Config["scopes"] {
  const supported = [...new Set((list || "hello").split(/[\s,]+/).filter(Boolean))];
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

function parseClients(value: string | undefined): Record<string, string> {
  const clients: Record<string, string> = {};
  for (const entry of (value ?? "").split(",").map((part) => part.trim()).filter(Boolean)) {
    const colon = entry.indexOf(":");
    const id = entry.slice(0, colon);
    const secret = entry.slice(colon + 1);
    if (colon < 1 || !CLIENT_ID.test(id)) {
      throw new ConfigError("OAUTH_CLIENTS must be a comma-separated list of id:secret pairs");
    }
    if (new TextEncoder().encode(secret).length < 32) {
      throw new ConfigError(`OAUTH_CLIENTS: the secret of "${id}" must be at least 32 bytes`);
    }
    clients[id] = secret;
  }
  return clients;
}

function integer(
  name: string,
  value: string | undefined,
  { fallback, min, max = Number.MAX_SAFE_INTEGER }: { fallback: number; min: number; max?: number },
): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return parsed;
}

function portNumber(name: string, value: string | undefined, fallback: number): number {
  return integer(name, value, { fallback, min: 0, max: 65535 });
}

function url(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!URL.canParse(value) || new URL(value).protocol !== "https:") {
    throw new ConfigError(`${name} must be an https:// URL, not "${value}"`);
  }
  return value.replace(/\/+$/, "");
}

/** The host part of a URL for a listening address: wildcards become localhost, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
