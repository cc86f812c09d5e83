/**
 * @module
 * IP addresses and CIDR ranges as plain data: parsing IPv4 and IPv6 text (IPv4-mapped IPv6
 * addresses count as IPv4), writing them in one canonical form (RFC 5952 for IPv6), matching
 * them against ranges and grouping IPv6 addresses by prefix. It reads no headers and knows
 * nothing of HTTP or of budgets.
 */

/** An address as 16 bytes; an IPv4 address is held IPv4-mapped (`::ffff:a.b.c.d`). */
export interface IpAddress {
  bytes: Uint8Array;
  v4: boolean;
}

/** A CIDR range, its prefix length counted on the 16-byte form (an IPv4 /24 is /120). */
export interface IpRange {
  bytes: Uint8Array;
  prefixLength: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** Bit offset of an IPv4 address inside its IPv4-mapped IPv6 form. */
const V4_OFFSET_BITS = 96;

/** Parses an IPv4 or IPv6 address (no port, brackets or zone); undefined when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  if (text.length > 45) return undefined;
  const v4 = parseIpv4(text);
  if (v4) return { bytes: mapped(v4), v4: true };
  const bytes = parseIpv6(text);
  if (!bytes) return undefined;
  return { bytes, v4: isMapped(bytes) };
}

/** Writes an address in canonical form: dotted quad for IPv4, RFC 5952 for IPv6. */
export function formatIp(ip: IpAddress): string {
  const b = ip.bytes;
  if (ip.v4) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // The longest run of two or more zero groups (the first of equals) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (part: number[]) => part.map((group) => group.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/**
 * Parses `192.0.2.0/24`, `2001:db8::/32` or a single address (a /32 or /128 range). Bits past
 * the prefix are ignored. Undefined when the text is not a range.
 */
export function parseIpRange(text: string): IpRange | undefined {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.v4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits) || Number(digits) > max) return undefined;
    length = Number(digits);
  }
  const prefixLength = ip.v4 ? V4_OFFSET_BITS + length : length;
  return { bytes: masked(ip.bytes, prefixLength), prefixLength };
}

/** Whether `ip` lies in `range`. */
export function inRange(ip: IpAddress, range: IpRange): boolean {
  const whole = range.prefixLength >> 3;
  for (let i = 0; i < whole; i++) if (ip.bytes[i] !== range.bytes[i]) return false;
  const rest = range.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip.bytes[whole] & mask) === range.bytes[whole];
}

/**
 * The group an address is counted in: an IPv4 address is its own group; an IPv6 address
 * belongs to its `/ipv6PrefixLength` network, written as CIDR (`2001:db8:1:2::/64`). Text that
 * is not an address is returned as it is.
 */
export function addressGroup(address: string, ipv6PrefixLength: number): string {
  if (!address.includes(":")) return address;
  const ip = parseIp(address);
  if (!ip) return address;
  if (ip.v4) return formatIp(ip);
  if (ipv6PrefixLength >= 128) return formatIp(ip);
  return `${
    formatIp({ bytes: masked(ip.bytes, ipv6PrefixLength), v4: false })
  }/${ipv6PrefixLength}`;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const match = IPV4.exec(text);
  if (!match) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = match[i + 1];
    // Leading zeros are refused: some parsers read them as octal.
    if (part.length > 1 && part[0] === "0") return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!text.includes(":")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1].split(":") : [];
  const groups: number[] = [];
  const tailGroups: number[] = [];
  if (!readGroups(head, groups, halves.length === 1)) return undefined;
  if (!readGroups(tail, tailGroups, true)) return undefined;
  const count = groups.length + tailGroups.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const all = [...groups, ...new Array(8 - count).fill(0), ...tailGroups];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = all[i] >> 8;
    bytes[2 * i + 1] = all[i] & 0xff;
  }
  return bytes;
}

/** Reads hex groups into `out`; the last part may be a dotted IPv4 address when `last` is set. */
function readGroups(parts: string[], out: number[], last: boolean): boolean {
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (HEX_GROUP.test(part)) {
      out.push(parseInt(part, 16));
      continue;
    }
    const v4 = last && i === parts.length - 1 ? parseIpv4(part) : undefined;
    if (!v4) return false;
    out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
  }
  return true;
}

function mapped(v4: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(v4, 12);
  return bytes;
}

function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function masked(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(16);
  const whole = prefixLength >> 3;
  out.set(bytes.subarray(0, whole));
  const rest = prefixLength & 7;
  if (rest) out[whole] = bytes[whole] & ((0xff << (8 - rest)) & 0xff);
  return out;
}
