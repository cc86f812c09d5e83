/**
 * @module
 * The shared store's advisory lock keys, in one list so that no two parts take the same lock by
 * accident. Every instance on the database honours them.
 */

/** Held while migrations run. */
export const MIGRATION_LOCK = 7_244_001;
/** Held while the signing keys change, so that exactly one key is current. */
export const SIGNING_KEY_LOCK = 7_244_002;
/**
 * First half of the two-part advisory locks of throttle keys (the second is a hash of the key).
 * Two-part locks never collide with the one-part locks of this list.
 */
export const THROTTLE_LOCK_CLASS = 7_244_003;
/** Held while the first ID-token key is made. */
export const ID_TOKEN_KEY_LOCK = 7_244_004;
/**
 * Held while a user, or a client that acts for itself, is added: each checks that the other kind
 * has no such name, and the check holds until the insert commits.
 */
export const NAME_LOCK = 7_244_005;
