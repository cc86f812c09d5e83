/**
 * @module
 * The service's version, as `auth_build_info` reports it. Raise it with each release; it names
 * what is deployed, never anything secret.
 */

/** The release version of the service (semantic versioning). */
export const VERSION = "1.0.0";
