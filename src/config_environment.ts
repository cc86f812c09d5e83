/**
 * @module
 * Which environment variables the service reads, and the one function that reads them. Nothing
 * else in src/ reads the environment, except the tutorial's client and main.ts's check for
 * stacks; turning the text into settings is config_load.ts's.
 */

/**
 * Every environment variable the service reads; {@linkcode readEnvironment} reads these and no
 * others, and the deno.json tasks and the compiled binary may read only these and
 * {@linkcode POSTGRES_CLIENT_VARIABLES}: deno.json's `service` permission set lists both, in
 * this order.
 */
export const ENV_VARIABLES = [
  "PORT",
  "HOST",
  "HTTP_PORT",
  "TLS_CERT",
  "TLS_KEY",
  "DATABASE_URL",
  "PGSSLROOTCERT",
  "PUBLIC_URL",
  "JWT_ISSUER",
  "JWT_AUDIENCE",
  "JWT_SECRET",
  "JWT_ALG",
  "ACCESS_TOKEN_TTL",
  "REFRESH_TOKEN_TTL",
  "REFRESH_TOKEN_IDLE_TTL",
  "JWT_LEEWAY",
  "OAUTH_SCOPES",
  "DEFAULT_SCOPE",
  "OAUTH_CLIENTS",
  "OAUTH_INTROSPECTORS",
  "PASSWORD_ITERATIONS",
  "THROTTLE_FREE_FAILURES",
  "THROTTLE_BASE_DELAY",
  "THROTTLE_MAX_DELAY",
  "THROTTLE_ADDRESS_FAILURES_PER_MINUTE",
  "THROTTLE_DEVICE_FAILURES",
  "THROTTLE_IN_FLIGHT_WAIT",
  "DEVICE_TOKEN_TTL",
  "TRUSTED_PROXIES",
  "TRUSTED_PROXY_HEADER",
  "IPV6_PREFIX_LENGTH",
  "INVALID_TOKEN_BUDGET_PER_MINUTE",
  "BODY_TIMEOUT",
  "BROWSER_SESSION_IDLE",
  "BROWSER_SESSION_MAX",
  "SHUTDOWN_TIMEOUT",
  "DRAIN_DELAY",
  "LOG_LEVEL",
  "LOG_HEALTH_CHECKS",
  "MFA_REQUIRED",
  "METRICS_PORT",
  "METRICS_HOST",
  "AUTH_REALM",
  "DPOP_NONCE",
  "REQUIRE_PAR",
] as const;

/**
 * Variables the PostgreSQL client (npm:postgres) looks up by itself when it connects, whatever
 * options it is given: PGPASSWORD when DATABASE_URL has no password (so it may stay out of the
 * URL), PGAPPNAME and PGTARGETSESSIONATTRS. Reading a variable the permissions do not allow
 * would stop it, so the tasks allow these too.
 */
export const POSTGRES_CLIENT_VARIABLES = [
  "PGPASSWORD",
  "PGAPPNAME",
  "PGTARGETSESSIONATTRS",
] as const;

/** Variables as read from the environment: unset ones are undefined. */
export type Env = Record<string, string | undefined>;

/** Reads the variables of {@linkcode ENV_VARIABLES} (only those) from the process's environment. */
export function readEnvironment(): Env {
  return Object.fromEntries(ENV_VARIABLES.map((name) => [name, Deno.env.get(name)]));
}
