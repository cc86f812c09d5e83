/**
 * @module
 * The service's one typed {@linkcode Config}, read once at start (config_load.ts) and passed
 * down, and what follows from it alone: how the service names itself and which valid settings
 * are likely a mistake. It reads no environment and parses no text.
 */
import type { DeviceTokenOptions } from "./auth/accounts/device_tokens.ts";
import type { SigningAlg } from "./auth/tokens/signing_keys.ts";
import type { ScopePolicy } from "./auth/scopes.ts";
import type { ThrottleOptions } from "./auth/accounts/throttle.ts";
import type { TokenBudgetOptions } from "./auth/tokens/invalid_token_budget.ts";
import type { BrowserSessionOptions } from "./auth/sign_in/browser_sessions.ts";
import type { ClientAddressOptions } from "./http/client_address.ts";
import type { LogLevel } from "./log.ts";

export { LONGEST_ACCESS_TOKEN_ACCEPTANCE_SECONDS } from "./config_defaults.ts";

/** Everything the service reads from its environment, validated once at start. */
export interface Config {
  host: string;
  port: number;
  /** Port of the plain-HTTP listener that only redirects to HTTPS; off when undefined. */
  httpPort?: number;
  /** Port of the plain-HTTP Prometheus metrics listener; off when undefined. */
  metricsPort?: number;
  /** Address the metrics listener binds; loopback by default. */
  metricsHost: string;
  /** `serve --check`: validate everything, print it, and exit without listening. */
  check: boolean;
  tlsCert: string;
  tlsKey: string;
  databaseUrl: string;
  /** CA certificate file that verifies PostgreSQL under `sslmode=verify-full` (`PGSSLROOTCERT`). */
  databaseRootCert?: string;
  /** Development mode: make a certificate when none exists and seed demo users. */
  dev: boolean;
  /** The URL clients use to reach this service; by default the HTTPS listener's own URL. */
  publicUrl?: string;
  /** `iss` of tokens; by default the public URL. */
  issuer?: string;
  /** `aud` of tokens; by default the public URL. */
  audience?: string;
  /** HS256 shared secret; key pairs kept in the store are used when absent. */
  jwtSecret?: string;
  /** Algorithm of the key pairs made at first start and by `keys rotate`. */
  jwtAlg: SigningAlg;
  /** Whether `JWT_ALG` was set, rather than {@linkcode jwtAlg} being the default. */
  jwtAlgSet: boolean;
  accessTokenTtlSeconds: number;
  /** Absolute lifetime of a session (refresh-token family) from its login. */
  refreshTokenTtlSeconds: number;
  /** Lifetime of an unused refresh token; at most `refreshTokenTtlSeconds`. */
  refreshTokenIdleTtlSeconds: number;
  /** Scopes clients may ask for, and the one granted when they ask for none. */
  scopes: ScopePolicy;
  /** Confidential OAuth clients: id → secret. */
  oauthClients: Record<string, string>;
  /** Confidential clients that may introspect tokens issued to any client. */
  oauthIntrospectors: string[];
  /** Client id recorded for sessions started through `/login`. */
  defaultClientId: string;
  clockLeewaySeconds: number;
  maxTokenBytes: number;
  passwordIterations: number;
  throttle: ThrottleOptions;
  deviceTokens: DeviceTokenOptions;
  /** Which peers are proxies whose forwarding header is believed, and IPv6 grouping. */
  clientAddress: ClientAddressOptions;
  /** Invalid access tokens allowed per client address and minute. */
  invalidTokenBudget: TokenBudgetOptions;
  /** Idle and absolute lifetimes of signed-in browsers. */
  browserSession: BrowserSessionOptions;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** After SIGTERM: how long to answer not-ready while still serving, before shutting down. */
  drainDelayMs: number;
  /** Whether health-check requests are written to the access log. */
  logHealthChecks: boolean;
  /** Whether every account must have a second factor (set up at its next browser sign-in). */
  mfaRequired: boolean;
  logLevel: LogLevel;
  /** Realm named in `WWW-Authenticate`. */
  realm: string;
  /** Whether every DPoP proof must carry a nonce the service made (RFC 9449 §8). */
  dpopNonceRequired: boolean;
  /** Whether every client must push its authorization requests first (RFC 9126 §5). */
  parRequired: boolean;
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

/**
 * Settings that are valid but likely a mistake, one line each, for `serve` to log and
 * `serve --check` to print: a wildcard HOST without PUBLIC_URL, with which the service names
 * itself (`selfUrl`, as it listens) by an address other machines cannot reach.
 */
export function configWarnings(config: Config, selfUrl: string): string[] {
  const wildcard = config.host === "0.0.0.0" || config.host === "::";
  if (!wildcard || config.publicUrl !== undefined) return [];
  return [
    `HOST "${config.host}" accepts connections from other machines, but without PUBLIC_URL the service names itself "${selfUrl}" in tokens, discovery and redirects; set PUBLIC_URL to the https:// address clients use`,
  ];
}

/** The host part of a URL for a listening address: wildcards become localhost, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}
