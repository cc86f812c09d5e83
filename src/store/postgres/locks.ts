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
 * First half of the two-part advisory locks of browser sessions' codes (the second is
 * `hashtext` of the session's `sid`), held while a code is added and its session's are trimmed.
 */
export const SESSION_CODES_LOCK_CLASS = 7_244_005;
/**
 * First half of the two-part advisory locks of client addresses (the second is `hashtext` of the
 * address), held while an address's pending sign-ins are counted and one is added.
 */
export const ADDRESS_PENDING_LOCK_CLASS = 7_244_006;
/**
 * Held while a user, or a client that acts for itself, is added: each checks that the other kind
 * has no such name, and the check holds until the insert commits.
 */
export const NAME_LOCK = 7_244_007;
