/**
 * @module
 * Rows to records, for both backends: their tables have the same columns, named as the records'
 * fields in snake_case, and only the types differ (SQLite answers numbers and 0/1, PostgreSQL's
 * BIGINT comes as text and BOOLEAN as true/false), which `Number` and `Boolean` read either way.
 * Lists are stored as JSON text. Each record's reader is one line per field: how it is read.
 */
import type { ThrottleRecord, UserRecord } from "./accounts.ts";
import type { ClientRecord } from "./clients.ts";
import type { RememberedDeviceRecord } from "./remembered_devices.ts";
import type { PushedRequestRecord } from "./pushed_requests.ts";
import type { DeviceAuthorizationRecord } from "./device_authorizations.ts";
import type { PasskeyRecord } from "./passkeys.ts";
import type { TotpFactorRecord } from "./second_factors.ts";
import type {
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  PendingRequestRecord,
} from "./sign_in.ts";
import type {
  RefreshFamilyRecord,
  RefreshTokenRecord,
  RefreshTokenState,
  RevocationRecord,
  SigningKeyRecord,
} from "./tokens.ts";

/** A row as either driver returns it. */
export type Row = Record<string, unknown>;

/** How a column is read: as stored (text, or NULL), as a number, a number or NULL, JSON, 0/1. */
type Kind = "text" | "number" | "number?" | "json" | "flag";

const READ: Record<Kind, (value: unknown) => unknown> = {
  text: (value) => value,
  number: Number,
  "number?": (value) => value === null ? null : Number(value),
  json: (value) => JSON.parse(value as string),
  flag: Boolean,
};

/**
 * A reader of rows into `T`: each field comes from its column (the field's name in snake_case,
 * after `prefix`), read as `kinds` says.
 */
function rowReader<T>(kinds: { [K in keyof T]-?: Kind }, prefix = ""): (row: Row) => T {
  const fields = Object.entries<Kind>(kinds).map(([field, kind]) => ({
    field,
    column: prefix + field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`),
    read: READ[kind],
  }));
  return (row) =>
    Object.fromEntries(fields.map(({ field, column, read }) => [field, read(row[column])])) as T;
}

/** A `users` row. */
export const toUser = rowReader<UserRecord>({
  username: "text",
  subject: "text",
  passwordHash: "text",
  createdAt: "number",
});

/** A `throttle` row; `reservedUntil` only where attempts are in flight. */
export function toThrottle(row: Row): ThrottleRecord {
  const record: ThrottleRecord = {
    failures: Number(row.failures),
    windowStartAt: Number(row.window_start),
    blockedUntil: Number(row.blocked_until),
  };
  const reservedUntil = (JSON.parse(row.reserved_until as string) as unknown[]).map(Number);
  return reservedUntil.length > 0 ? { ...record, reservedUntil } : record;
}

/** A `signing_keys` or `id_token_keys` row, its public half. */
export const toSigningKey = rowReader<SigningKeyRecord>({
  kid: "text",
  alg: "text",
  publicJwk: "text",
  createdAt: "number",
  retiresAt: "number?",
});

const FAMILY_KINDS = {
  id: "text",
  username: "text",
  subject: "text",
  clientId: "text",
  createdAt: "number",
  expiresAt: "number",
  accessExpiresAt: "number",
  revokedAt: "number?",
  dpopJkt: "text",
  clientConfidential: "flag",
} as const;

/** A `refresh_families` row. */
export const toRefreshFamily = rowReader<RefreshFamilyRecord>(FAMILY_KINDS);

/**
 * The columns of a refresh token (`t`) joined with its family (`f`), the family's prefixed with
 * `family_`, as {@linkcode toRefreshTokenState} reads them.
 */
export const REFRESH_TOKEN_STATE_COLUMNS =
  `t.token_hash, t.family_id, t.scope, t.created_at, t.expires_at, t.used_at,
   f.username AS family_username, f.subject AS family_subject, f.client_id AS family_client_id,
   f.created_at AS family_created_at, f.expires_at AS family_expires_at,
   f.access_expires_at AS family_access_expires_at, f.revoked_at AS family_revoked_at,
   f.dpop_jkt AS family_dpop_jkt, f.client_confidential AS family_client_confidential`;

const toRefreshToken = rowReader<RefreshTokenRecord>({
  tokenHash: "text",
  familyId: "text",
  scope: "text",
  createdAt: "number",
  expiresAt: "number",
  usedAt: "number?",
});
const toPrefixedFamily = rowReader<RefreshFamilyRecord>(FAMILY_KINDS, "family_");

/** A row of {@linkcode REFRESH_TOKEN_STATE_COLUMNS}. */
export function toRefreshTokenState(row: Row): RefreshTokenState {
  return { token: toRefreshToken(row), family: toPrefixedFamily(row) };
}

const toRevocationFields = rowReader<Omit<RevocationRecord, "issuedUntil">>({
  seq: "number",
  kind: "text",
  id: "text",
  expiresAt: "number",
});

/** A `revocations` row; `issuedUntil` only where it is set (a removed client's). */
export function toRevocation(row: Row): RevocationRecord {
  const record: RevocationRecord = toRevocationFields(row);
  if (row.issued_until !== null && row.issued_until !== undefined) {
    record.issuedUntil = Number(row.issued_until);
  }
  return record;
}

/** A `clients` row. */
export const toClient = rowReader<ClientRecord>({
  clientId: "text",
  name: "text",
  secretHash: "text",
  redirectUris: "json",
  postLogoutRedirectUris: "json",
  firstParty: "flag",
  scope: "text",
  grantTypes: "json",
  createdAt: "number",
  requirePar: "flag",
  dpopBound: "flag",
});

/** A `pending_requests` row. */
export const toPendingRequest = rowReader<PendingRequestRecord>({
  id: "text",
  bindingHash: "text",
  csrfHash: "text",
  action: "text",
  address: "text",
  createdAt: "number",
  expiresAt: "number",
});

/** An `authorization_codes` row. */
export const toAuthorizationCode = rowReader<AuthorizationCodeRecord>({
  codeHash: "text",
  clientId: "text",
  username: "text",
  subject: "text",
  redirectUri: "text",
  scope: "text",
  codeChallenge: "text",
  nonce: "text",
  authTime: "number",
  browserSid: "text",
  createdAt: "number",
  expiresAt: "number",
  usedAt: "number?",
  familyId: "text",
  replayedAt: "number?",
  dpopJkt: "text",
});

/** A `browser_sessions` row. */
export const toBrowserSession = rowReader<BrowserSessionRecord>({
  idHash: "text",
  sid: "text",
  username: "text",
  subject: "text",
  authTime: "number",
  createdAt: "number",
  idleExpiresAt: "number",
  expiresAt: "number",
});

/** A `totp_factors` row. */
export const toTotpFactor = rowReader<TotpFactorRecord>({
  username: "text",
  secret: "text",
  createdAt: "number",
  confirmedAt: "number?",
  lastStep: "number?",
});

/** A remembered device. */
export const toRememberedDevice = rowReader<RememberedDeviceRecord>({
  deviceId: "text",
  username: "text",
  label: "text",
  firstSeenAt: "number",
  lastSeenAt: "number",
  expiresAt: "number",
});

/** A `pushed_requests` row. */
export const toPushedRequest = rowReader<PushedRequestRecord>({
  idHash: "text",
  clientId: "text",
  parameters: "text",
  address: "text",
  createdAt: "number",
  expiresAt: "number",
  usedAt: "number?",
});

/** A `device_authorizations` row. */
export const toDeviceAuthorization = rowReader<DeviceAuthorizationRecord>({
  deviceCodeHash: "text",
  userCodeHash: "text",
  clientId: "text",
  scope: "text",
  createdAt: "number",
  expiresAt: "number",
  intervalSeconds: "number",
  lastPolledAt: "number?",
  status: "text",
  username: "text",
  subject: "text",
  browserSid: "text",
  authTime: "number?",
  decidedAt: "number?",
  address: "text",
});

/** A `passkeys` row joined with its owner's `username`; transports are stored space-separated. */
export function toPasskey(row: Row): PasskeyRecord {
  const transports = String(row.transports);
  return {
    ...readPasskey(row),
    transports: transports === "" ? [] : transports.split(" "),
  };
}

const readPasskey = rowReader<Omit<PasskeyRecord, "transports">>({
  id: "text",
  subject: "text",
  username: "text",
  publicKey: "text",
  counter: "number",
  backupEligible: "flag",
  backedUp: "flag",
  userVerified: "flag",
  name: "text",
  createdAt: "number",
  lastUsedAt: "number?",
});
