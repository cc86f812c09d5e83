/**
 * @module
 * The schema's steps as both backends take them, written once: each function returns the SQL of
 * a migration step (or the part of one that both share) in a backend's {@linkcode Dialect}. Each
 * backend's schema.ts lists its versions from these, adding what only it does (SQLite rebuilds a
 * table where PostgreSQL alters it). A released step is never edited; a change is a new step.
 */

/** How a backend words what the steps need. */
export interface Dialect {
  /** A whole number of 64 bits: times and sequence numbers. */
  integer: "INTEGER" | "BIGINT";
  /** A yes/no column. */
  flag: "INTEGER" | "BOOLEAN";
  /** What follows a table's closing parenthesis (SQLite's strict typing). */
  tableOptions: " STRICT" | "";
  /** The increasing primary key of revocations. */
  sequence: "INTEGER PRIMARY KEY AUTOINCREMENT" | "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
  /**
   * The first column of a key table, which orders keys made in the same second; empty where
   * every table has one of its own (SQLite's rowid).
   */
  keyOrder: "" | "id BIGINT GENERATED ALWAYS AS IDENTITY,\n     ";
  /** The current time in Unix seconds. */
  now: "unixepoch()" | "extract(epoch FROM now())::bigint";
  /** A revocation's expiry when it is recorded again: the later of the two. */
  laterExpiry:
    | "max(expires_at, excluded.expires_at)"
    | "GREATEST(revocations.expires_at, excluded.expires_at)";
  /** A new random subject, 32 hexadecimal digits, different in every row. */
  randomSubject: "lower(hex(randomblob(16)))" | "replace(gen_random_uuid()::text, '-', '')";
}

/** A table that holds signing keys, as first made; `private_jwk` is still required. */
function keyTable(d: Dialect, name: string): string {
  return `CREATE TABLE ${name} (
     ${d.keyOrder}kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     retires_at ${d.integer}
   )${d.tableOptions};`;
}

/** Users, signing keys and login throttling. */
export function accountTables(d: Dialect): string {
  return `CREATE TABLE users (
     username TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     created_at ${d.integer} NOT NULL
   )${d.tableOptions};
   ${keyTable(d, "signing_keys")}
   CREATE TABLE throttle (
     key TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     window_start ${d.integer} NOT NULL,
     blocked_until ${d.integer} NOT NULL
   )${d.tableOptions};`;
}

/** Refresh tokens, each carrying its session's state, and revocations. */
export function refreshTokenTables(d: Dialect): string {
  return `CREATE TABLE refresh_tokens (
     token_hash TEXT PRIMARY KEY,
     family_id TEXT NOT NULL,
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     scope TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL,
     used_at ${d.integer},
     revoked_at ${d.integer}
   )${d.tableOptions};
   CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
   CREATE TABLE revocations (
     seq ${d.sequence},
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     expires_at ${d.integer} NOT NULL,
     UNIQUE (kind, id)
   )${d.tableOptions};`;
}

/** Every stored time in Unix seconds (users and throttle entries were in milliseconds). */
export const SECONDS_NOT_MILLISECONDS = `UPDATE users SET created_at = created_at / 1000;
   UPDATE throttle SET window_start = window_start / 1000,
     blocked_until = (blocked_until + 999) / 1000;`;

/**
 * Login attempts in flight are kept apart from failures: each throttle key lists when its
 * reservations lapse, as JSON text.
 */
export const THROTTLE_RESERVATIONS =
  `ALTER TABLE throttle ADD COLUMN reserved_until TEXT NOT NULL DEFAULT '[]';`;

/**
 * Refresh families get a row of their own, the one place their state lives, made from the
 * existing tokens: a family keeps the expiry of its newest token, now absolute, and its access
 * tokens are taken to live as long (their lifetime is not known here). A family is revoked when
 * any of its tokens was (tokens minted while it was being revoked were not) and when its user is
 * gone; the access tokens of those get a `sid` revocation. The tokens keep their old columns:
 * each backend drops them its own way.
 */
export function refreshFamiliesFromTokens(d: Dialect): string {
  return `CREATE TABLE refresh_families (
     id TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL,
     access_expires_at ${d.integer} NOT NULL,
     revoked_at ${d.integer}
   )${d.tableOptions};
   CREATE INDEX refresh_families_username ON refresh_families (username);
   INSERT INTO revocations (kind, id, expires_at)
     SELECT 'sid', family_id, max(expires_at) FROM refresh_tokens WHERE true
     GROUP BY family_id
     HAVING max(expires_at) > ${d.now} AND (
       (count(revoked_at) > 0 AND count(revoked_at) < count(*))
       OR min(username) NOT IN (SELECT username FROM users))
     ON CONFLICT (kind, id) DO UPDATE SET expires_at = ${d.laterExpiry};
   INSERT INTO refresh_families
     (id, username, client_id, created_at, expires_at, access_expires_at, revoked_at)
     SELECT family_id, min(username), min(client_id), min(created_at), max(expires_at),
       max(expires_at), coalesce(max(revoked_at),
         CASE WHEN min(username) NOT IN (SELECT username FROM users) THEN ${d.now} END)
     FROM refresh_tokens GROUP BY family_id;`;
}

/** Secrets the service makes for itself, such as the key that signs device tokens. */
export function secretsTable(d: Dialect): string {
  return `CREATE TABLE secrets (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     created_at ${d.integer} NOT NULL
   )${d.tableOptions};`;
}

/**
 * Sign-in from browsers and other apps: registered clients, ID-token keys, pending steps,
 * authorization codes, browser sessions with the families issued in them, and consents.
 */
export function signInTables(d: Dialect): string {
  return [clientsTable(d), keyTable(d, "id_token_keys"), browserSignInTables(d)].join("\n   ");
}

function clientsTable(d: Dialect): string {
  return `CREATE TABLE clients (
     client_id TEXT PRIMARY KEY,
     name TEXT,
     secret_hash TEXT,
     redirect_uris TEXT NOT NULL,
     post_logout_redirect_uris TEXT NOT NULL,
     first_party ${d.flag} NOT NULL,
     scope TEXT NOT NULL,
     grant_types TEXT NOT NULL,
     created_at ${d.integer} NOT NULL
   )${d.tableOptions};`;
}

function browserSignInTables(d: Dialect): string {
  return `CREATE TABLE pending_requests (
     id TEXT PRIMARY KEY,
     binding_hash TEXT NOT NULL,
     csrf_hash TEXT NOT NULL,
     action TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL
   )${d.tableOptions};
   CREATE TABLE authorization_codes (
     code_hash TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     username TEXT NOT NULL,
     redirect_uri TEXT NOT NULL,
     scope TEXT NOT NULL,
     code_challenge TEXT NOT NULL,
     nonce TEXT,
     auth_time ${d.integer} NOT NULL,
     browser_sid TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL,
     used_at ${d.integer},
     family_id TEXT,
     replayed_at ${d.integer}
   )${d.tableOptions};
   CREATE TABLE browser_sessions (
     id_hash TEXT PRIMARY KEY,
     sid TEXT NOT NULL UNIQUE,
     username TEXT NOT NULL,
     auth_time ${d.integer} NOT NULL,
     created_at ${d.integer} NOT NULL,
     idle_expires_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL
   )${d.tableOptions};
   CREATE INDEX browser_sessions_username ON browser_sessions (username);
   CREATE TABLE browser_session_families (
     sid TEXT NOT NULL,
     family_id TEXT NOT NULL,
     PRIMARY KEY (sid, family_id)
   )${d.tableOptions};
   CREATE TABLE consents (
     username TEXT NOT NULL,
     client_id TEXT NOT NULL,
     scope TEXT NOT NULL,
     granted_at ${d.integer} NOT NULL,
     PRIMARY KEY (username, client_id)
   )${d.tableOptions};`;
}

/**
 * Bounds on what sign-in keeps: a pending step remembers the client address a sign-in page was
 * shown to, so that each address's unfinished sign-ins can be counted, and codes are found by
 * their browser session, so that each session's can be trimmed. PostgreSQL also gives codes an
 * increasing `id` (see its schema.ts); SQLite orders them by rowid.
 */
export const SIGN_IN_BOUNDS = `ALTER TABLE pending_requests ADD COLUMN address TEXT;
   CREATE INDEX pending_requests_address ON pending_requests (address, expires_at);
   CREATE INDEX authorization_codes_browser_sid ON authorization_codes (browser_sid);`;

/**
 * Removing a client ends what it was given: a `client` revocation refuses its access tokens
 * issued until `issued_until` (null for the other kinds), and its families are found by client.
 */
export function clientRemovals(d: Dialect): string {
  return `ALTER TABLE revocations ADD COLUMN issued_until ${d.integer};
   CREATE INDEX refresh_families_client ON refresh_families (client_id);`;
}

/**
 * What follows once every user has a subject of their own (each backend gives them one its own
 * way): refresh families, browser sessions and authorization codes carry their user's subject,
 * and consents are kept by subject, so that nothing of an account passes to a later account of
 * the same name. A family whose user is gone (it was revoked with them) gets a subject no
 * account has; browser sessions, codes and consents of users that are gone are deleted. The
 * new columns' default is only for the rows that exist; the stores always give one.
 */
export function subjectsFromUsers(d: Dialect): string {
  const subjectOf = (table: string) =>
    `(SELECT u.subject FROM users u WHERE u.username = ${table}.username)`;
  const gone = "username NOT IN (SELECT username FROM users)";
  return `ALTER TABLE refresh_families ADD COLUMN subject TEXT NOT NULL DEFAULT '';
   UPDATE refresh_families
     SET subject = coalesce(${subjectOf("refresh_families")}, ${d.randomSubject});
   DELETE FROM browser_sessions WHERE ${gone};
   DELETE FROM browser_session_families WHERE sid NOT IN (SELECT sid FROM browser_sessions);
   ALTER TABLE browser_sessions ADD COLUMN subject TEXT NOT NULL DEFAULT '';
   UPDATE browser_sessions SET subject = ${subjectOf("browser_sessions")};
   DELETE FROM authorization_codes WHERE ${gone};
   ALTER TABLE authorization_codes ADD COLUMN subject TEXT NOT NULL DEFAULT '';
   UPDATE authorization_codes SET subject = ${subjectOf("authorization_codes")};
   DELETE FROM consents WHERE ${gone};
   UPDATE consents SET username = ${subjectOf("consents")};
   ALTER TABLE consents RENAME COLUMN username TO subject;`;
}

/**
 * Second factors: authenticator secrets with their last accepted step, recovery codes as hashes
 * (both gone with their user), and the sign-in methods of browser sessions.
 */
export function secondFactorTables(d: Dialect): string {
  return `CREATE TABLE totp_factors (
     username TEXT PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
     secret TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     confirmed_at ${d.integer},
     last_step ${d.integer}
   )${d.tableOptions};
   CREATE TABLE recovery_codes (
     username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
     code_hash TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     used_at ${d.integer},
     PRIMARY KEY (username, code_hash)
   )${d.tableOptions};
   CREATE TABLE session_methods (
     sid TEXT PRIMARY KEY,
     amr TEXT NOT NULL
   )${d.tableOptions};`;
}

/** The devices each user's logins were made from, until forgotten or expired. */
export function rememberedDevicesTable(d: Dialect): string {
  return `CREATE TABLE remembered_devices (
     device_id TEXT PRIMARY KEY,
     username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
     label TEXT NOT NULL,
     first_seen_at ${d.integer} NOT NULL,
     last_seen_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL
   )${d.tableOptions};
   CREATE INDEX remembered_devices_user ON remembered_devices (username);`;
}

/**
 * Pushed authorization requests (RFC 9126), by the SHA-256 of their `request_uri`, and the
 * clients that must push theirs.
 */
export function pushedRequestTables(d: Dialect): string {
  const no = d.flag === "BOOLEAN" ? "false" : "0";
  return `CREATE TABLE pushed_requests (
     id_hash TEXT PRIMARY KEY,
     client_id TEXT NOT NULL,
     parameters TEXT NOT NULL,
     address TEXT,
     created_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL,
     used_at ${d.integer}
   )${d.tableOptions};
   CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);
   CREATE INDEX pushed_requests_address ON pushed_requests (address);
   ALTER TABLE clients ADD COLUMN require_par ${d.flag} NOT NULL DEFAULT ${no};`;
}

/**
 * Device authorizations (RFC 8628): keyed by the SHA-256 of the device code, found by the
 * SHA-256 of the user code, pruned by their expiry.
 */
export function deviceAuthorizationTables(d: Dialect): string {
  return `CREATE TABLE device_authorizations (
     device_code_hash TEXT PRIMARY KEY,
     user_code_hash TEXT NOT NULL UNIQUE,
     client_id TEXT NOT NULL,
     scope TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     expires_at ${d.integer} NOT NULL,
     interval_seconds ${d.integer} NOT NULL,
     last_polled_at ${d.integer},
     status TEXT NOT NULL,
     username TEXT,
     subject TEXT,
     browser_sid TEXT,
     auth_time ${d.integer},
     decided_at ${d.integer}
   )${d.tableOptions};
   CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);`;
}

/**
 * Passkeys: WebAuthn credentials by credential id, owned by their account's subject (gone with
 * the account), with the signature counter and the backup flags as the spec asks them kept.
 */
export function passkeyTable(d: Dialect): string {
  return `CREATE TABLE passkeys (
     id TEXT PRIMARY KEY,
     subject TEXT NOT NULL REFERENCES users (subject) ON DELETE CASCADE,
     public_key TEXT NOT NULL,
     counter ${d.integer} NOT NULL,
     transports TEXT NOT NULL,
     backup_eligible ${d.flag} NOT NULL,
     backed_up ${d.flag} NOT NULL,
     user_verified ${d.flag} NOT NULL,
     name TEXT NOT NULL,
     created_at ${d.integer} NOT NULL,
     last_used_at ${d.integer}
   )${d.tableOptions};
   CREATE INDEX passkeys_subject ON passkeys (subject);`;
}

/**
 * Sender-constrained tokens (DPoP): clients that must use them, the key a public client's
 * refresh family and an authorization code (`dpop_jkt`) are bound to, and the proofs seen
 * (hashed), kept until their window ends.
 */
export function dpopTables(d: Dialect): string {
  return `ALTER TABLE clients ADD COLUMN dpop_bound ${d.flag} NOT NULL DEFAULT false;
   ALTER TABLE refresh_families ADD COLUMN dpop_jkt TEXT;
   ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
   CREATE TABLE dpop_proofs (
     proof_hash TEXT PRIMARY KEY,
     expires_at ${d.integer} NOT NULL
   )${d.tableOptions};
   CREATE INDEX dpop_proofs_expiry ON dpop_proofs (expires_at);`;
}

/**
 * Refresh families remember whether their client had to authenticate, so that a family of a
 * confidential client never passes for a public client's once the client is gone. Families made
 * before are unmarked (a registered client's end with its removal anyway).
 */
export function familyClientConfidential(d: Dialect): string {
  const no = d.flag === "BOOLEAN" ? "false" : "0";
  return `ALTER TABLE refresh_families ADD COLUMN client_confidential ${d.flag} NOT NULL DEFAULT ${no};`;
}

/**
 * Device authorizations remember the client address (group) a public client asked from, so that
 * the ones still waiting are counted against that address's cap; null where not counted.
 */
export function deviceAuthorizationAddress(): string {
  return `ALTER TABLE device_authorizations ADD COLUMN address TEXT;
   CREATE INDEX device_authorizations_address ON device_authorizations (address);`;
}
