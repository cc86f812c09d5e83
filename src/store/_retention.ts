/**
 * @module
 * How long both backends keep records past the point where they stop counting, for pruneExpired.
 */
import { DAY_SECONDS } from "../clock.ts";

/** Throttle entries untouched for this long carry no information and are pruned. */
export const THROTTLE_RETENTION_SECONDS = DAY_SECONDS;
