/**
 * @module
 * Every setting's default and bounds, as named constants: what the service does when a variable
 * is unset, and the largest and smallest values it accepts. Defaults that a service of the domain
 * owns stay beside that service. It reads nothing and decides nothing.
 */
import type { LogLevel } from "./log.ts";
import { DAY_SECONDS, HOUR_SECONDS, MINUTE_SECONDS } from "./clock.ts";

/** `DATABASE_URL` when unset: the embedded store. */
export const DEFAULT_DATABASE_URL = "sqlite:data/auth.db";
/** `HOST` when unset. */
export const DEFAULT_HOST = "localhost";
/** `PORT` when unset. */
export const DEFAULT_PORT = 8443;
/** `ACCESS_TOKEN_TTL` when unset. */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 15 * MINUTE_SECONDS;
/** `REFRESH_TOKEN_TTL` when unset: a session's absolute lifetime from its login. */
export const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 30 * DAY_SECONDS;
/** `REFRESH_TOKEN_IDLE_TTL` when unset (or `REFRESH_TOKEN_TTL` when that is shorter). */
export const DEFAULT_REFRESH_TOKEN_IDLE_TTL_SECONDS = 7 * DAY_SECONDS;
/** `JWT_LEEWAY` when unset: clock skew tolerated between instances and clients. */
export const DEFAULT_CLOCK_LEEWAY_SECONDS = 30;
/** Largest access token accepted; larger ones are refused before any parsing. */
export const MAX_TOKEN_BYTES = 8192;
/** Largest request body read. */
export const MAX_BODY_BYTES = 16 * 1024;
/** `BODY_TIMEOUT` when unset. */
export const DEFAULT_BODY_TIMEOUT_SECONDS = 10;
/** `SHUTDOWN_TIMEOUT` when unset. */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 10;
/** Client id recorded for sessions started through `/login`, the first-party client. */
export const DEFAULT_CLIENT_ID = "auth-api";
/** `AUTH_REALM` when unset. */
export const DEFAULT_REALM = "auth-api";
/** `METRICS_HOST` when unset: metrics stay on this machine unless the operator says otherwise. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";
/** `DRAIN_DELAY` when unset: how long an instance that got SIGTERM keeps serving, not ready. */
export const DEFAULT_DRAIN_DELAY_SECONDS = 5;
/** `LOG_LEVEL` when unset. */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";
/** Longest `ACCESS_TOKEN_TTL`: access tokens are meant to be short-lived. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = DAY_SECONDS;
/** Longest `JWT_LEEWAY`. */
export const MAX_CLOCK_LEEWAY_SECONDS = 5 * MINUTE_SECONDS;
/**
 * Longest any instance may accept an access token after issuing it, whatever its settings: how
 * long a removed client's tokens stay refused (`clients remove` may not share the servers' env).
 */
export const LONGEST_ACCESS_TOKEN_ACCEPTANCE_SECONDS = MAX_ACCESS_TOKEN_TTL_SECONDS +
  MAX_CLOCK_LEEWAY_SECONDS;
/** Longest `REFRESH_TOKEN_TTL`, a session's absolute lifetime. */
export const MAX_REFRESH_TOKEN_TTL_SECONDS = 365 * DAY_SECONDS;
/** Longest lifetime of a browser's cookie (device token, browser session): browsers cap it there. */
export const MAX_COOKIE_SECONDS = 400 * DAY_SECONDS;
/** Longest `THROTTLE_BASE_DELAY`, the first delay after the free failures. */
export const MAX_THROTTLE_BASE_DELAY_SECONDS = HOUR_SECONDS;
/** Longest `THROTTLE_MAX_DELAY`. */
export const MAX_THROTTLE_MAX_DELAY_SECONDS = DAY_SECONDS;
/** Longest `BODY_TIMEOUT`. */
export const MAX_BODY_TIMEOUT_SECONDS = 5 * MINUTE_SECONDS;
/** Longest `SHUTDOWN_TIMEOUT`. */
export const MAX_SHUTDOWN_TIMEOUT_SECONDS = HOUR_SECONDS;
/** Longest `DRAIN_DELAY`. */
export const MAX_DRAIN_DELAY_SECONDS = 10 * MINUTE_SECONDS;
/** Shortest accepted `JWT_SECRET` and `OAUTH_CLIENTS` secret, in bytes. */
export const MIN_SECRET_BYTES = 32;
/** Longest `THROTTLE_IN_FLIGHT_WAIT`: a waiting login holds its connection all along. */
export const MAX_THROTTLE_IN_FLIGHT_WAIT_SECONDS = MINUTE_SECONDS;
