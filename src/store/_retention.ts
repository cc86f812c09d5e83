/**
 * @module
 * How long both backends keep records past the point where they stop counting, for pruneExpired.
 */
import { DAY_SECONDS } from "../clock.ts";

/** Throttle entries untouched for this long carry no information and are pruned. */
export const THROTTLE_RETENTION_SECONDS = DAY_SECONDS;

/**
 * Device authorizations are kept this long past their expiry, so that a device polling late is
 * told `expired_token` rather than that its code is unknown.
 */
export const DEVICE_AUTHORIZATION_RETENTION_SECONDS = 60 * 60;
