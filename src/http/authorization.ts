/**
 * @module
 * The one parser of the `Authorization` header: Bearer tokens (RFC 6750 §2.1) and HTTP Basic
 * client credentials (RFC 7617, form-encoded as RFC 6749 §2.3.1 asks). It only reads the
 * header; deciding what a missing or malformed one means is the caller's.
 */

/** What an `Authorization` header holds. */
export type Authorization =
  | { scheme: "none" }
  | { scheme: "bearer"; token: string }
  | { scheme: "malformed_bearer" }
  | { scheme: "basic"; id: string; secret: string }
  | { scheme: "malformed_basic" }
  | { scheme: "other" };

const BEARER_PREFIX = "bearer ";
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
  const basic = BASIC.exec(header);
  return basic ? parseBasic(basic[1]) : { scheme: "other" };
}

function parseBasic(encoded: string): Authorization {
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.fromBase64(encoded),
    );
    const colon = decoded.indexOf(":");
    if (colon === -1) return { scheme: "malformed_basic" };
    return {
      scheme: "basic",
      id: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    return { scheme: "malformed_basic" };
  }
}

/** `application/x-www-form-urlencoded` decoding of one value; throws on a bad escape. */
function formDecode(text: string): string {
  return decodeURIComponent(text.replaceAll("+", " "));
}
