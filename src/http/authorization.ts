/**
 * @module
 * The one parser of the `Authorization` header: Bearer tokens (RFC 6750 §2.1), DPoP-bound tokens
 * (RFC 9449 §7.1) and HTTP Basic
 * client credentials (RFC 7617). RFC 6749 §2.3.1 form-encodes the id and secret first, which
 * most clients (curl -u, many libraries) do not, so a secret is read both ways. It only reads
 * the header; deciding what a missing or malformed one means is the caller's.
 */

/** What an `Authorization` header holds. */
export type Authorization =
  | { scheme: "none" }
  | { scheme: "bearer"; token: string }
  | { scheme: "malformed_bearer" }
  | { scheme: "dpop"; token: string }
  | { scheme: "basic"; id: string; secrets: BasicSecret }
  | { scheme: "malformed_basic" }
  | { scheme: "other" };

/**
 * The readings of a Basic secret: form-decoded (RFC 6749 §2.3.1) first, then the text as sent
 * when that differs; only the text as sent when it is not valid form encoding. Never more.
 */
export type BasicSecret = readonly [string] | readonly [string, string];

const BEARER_PREFIX = "bearer ";
const DPOP_PREFIX = "dpop ";
const BASIC = /^Basic +([A-Za-z0-9+/]+=*) *$/i;
const NONE: Authorization = { scheme: "none" };
const MALFORMED_BEARER: Authorization = { scheme: "malformed_bearer" };

/**
 * Parses an `Authorization` header value (or its absence). A Bearer header is read without a
 * regex, since every protected request pays for it.
 *
 * @example
 * ```ts
 * parseAuthorization("Bearer abc.def.ghi"); // { scheme: "bearer", token: "abc.def.ghi" }
 * ```
 */
export function parseAuthorization(header: string | null): Authorization {
  if (header === null) return NONE;
  if (header.slice(0, BEARER_PREFIX.length).toLowerCase() === BEARER_PREFIX) {
    const token = header.slice(BEARER_PREFIX.length).trim();
    return token === "" || token.includes(" ") ? MALFORMED_BEARER : { scheme: "bearer", token };
  }
  if (header.slice(0, DPOP_PREFIX.length).toLowerCase() === DPOP_PREFIX) {
    const token = header.slice(DPOP_PREFIX.length).trim();
    return token === "" || token.includes(" ") ? MALFORMED_BEARER : { scheme: "dpop", token };
  }
  const basic = BASIC.exec(header);
  return basic ? parseBasic(basic[1]) : { scheme: "other" };
}

function parseBasic(encoded: string): Authorization {
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.fromBase64(encoded));
  } catch {
    return { scheme: "malformed_basic" };
  }
  const colon = decoded.indexOf(":");
  if (colon === -1) return { scheme: "malformed_basic" };
  const id = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  const formSecret = formDecode(secret);
  return {
    scheme: "basic",
    id: formDecode(id) ?? id,
    secrets: formSecret === undefined || formSecret === secret ? [secret] : [formSecret, secret],
  };
}

/** `application/x-www-form-urlencoded` decoding of one value; undefined for a bad escape. */
function formDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}
