/**
 * @module
 * Who the client is, by address: the TCP peer, or, only when the peer is a trusted proxy, the
 * address that proxy reports in `X-Forwarded-For` or `Forwarded` (RFC 7239), whichever one the
 * operator names. Headers from any other peer are never read, so they cannot move a budget.
 * It also groups IPv6 clients by prefix. It runs once per request, on every request: with no
 * trusted proxies it reads no header at all.
 */
import { addressGroup, formatIp, inRange, type IpRange, parseIp } from "../net/ip.ts";

/** The header a trusted proxy writes the client's address into. */
export type ProxyHeader = "x-forwarded-for" | "forwarded";

/** How client addresses are found and grouped. */
export interface ClientAddressOptions {
  /** Peers whose forwarding header is believed; empty believes none. */
  trustedProxies: IpRange[];
  /** The header those proxies write; the other one is ignored. */
  proxyHeader: ProxyHeader;
  /** IPv6 clients are grouped by this prefix for budgets. */
  ipv6PrefixLength: number;
}

/** The defaults: no trusted proxy, `X-Forwarded-For`, IPv6 /64 groups. */
export const DEFAULT_CLIENT_ADDRESS: Readonly<ClientAddressOptions> = {
  trustedProxies: [],
  proxyHeader: "x-forwarded-for",
  ipv6PrefixLength: 64,
};

/** What is known of a request's client. */
export interface ClientAddress {
  /** The client's address, canonical (what the access log records). */
  address: string;
  /** What budgets count against: the address, or its IPv6 prefix in CIDR form. */
  group: string;
}

/** Addresses whose reading is remembered; the memory is cleared when it grows past this. */
const CACHE_SIZE = 4096;

/** What is known of one address as written: its canonical form, group and trust. */
interface Reading extends ClientAddress {
  /** Whether the text is an IP address at all. */
  valid: boolean;
  /** Whether it is a trusted proxy. */
  trusted: boolean;
}

/**
 * Builds the function the edge calls per request with the TCP peer's address. Readings of
 * addresses are remembered, so a request from a known peer costs a map lookup (plus reading the
 * forwarding header when the peer is a trusted proxy), and the answer is shared, never copied.
 *
 * @example
 * ```ts
 * const resolve = createClientAddressResolver({ ...DEFAULT_CLIENT_ADDRESS, trustedProxies });
 * const { address, group } = resolve(req, info.remoteAddr.hostname);
 * ```
 */
export function createClientAddressResolver(
  options: ClientAddressOptions,
): (req: Request, peer: string) => ClientAddress {
  const { trustedProxies, proxyHeader, ipv6PrefixLength } = options;
  const readings = new Map<string, Reading>();
  const read = (text: string): Reading => {
    let reading = readings.get(text);
    if (reading === undefined) {
      const ip = parseIp(text);
      const address = ip ? formatIp(ip) : text;
      reading = {
        address,
        group: ip ? addressGroup(address, ipv6PrefixLength) : address,
        valid: ip !== undefined,
        trusted: ip !== undefined && trustedProxies.some((range) => inRange(ip, range)),
      };
      if (readings.size >= CACHE_SIZE) readings.clear();
      readings.set(text, reading);
    }
    return reading;
  };
  if (trustedProxies.length === 0) {
    return function peerOnly(_req, peer) {
      return read(peer);
    };
  }
  const hops = proxyHeader === "forwarded" ? forwardedFor : xForwardedFor;
  return function throughProxies(req, peer) {
    let client = read(peer);
    if (!client.trusted) return client;
    const reported = hops(req.headers.get(proxyHeader));
    // Right to left: each trusted hop vouches for the one before it; the first address that is
    // not a trusted proxy is the client. A hop that is not an address ends the walk.
    for (let i = reported.length - 1; i >= 0; i--) {
      const text = reported[i];
      const hop = text === undefined ? undefined : read(text);
      if (!hop?.valid) break;
      client = hop;
      if (!hop.trusted) break;
    }
    return client;
  };
}

/**
 * The addresses of an `X-Forwarded-For` value, left to right; `undefined` for an entry that
 * is not an address. Ports (`192.0.2.1:4711`, `[2001:db8::1]:4711`) are dropped.
 */
export function xForwardedFor(value: string | null): (string | undefined)[] {
  if (!value) return [];
  return value.split(",").map((entry) => hostOf(entry.trim()));
}

/**
 * The `for=` addresses of a `Forwarded` value (RFC 7239 §4), one per element, left to right;
 * `undefined` for an element without `for=` or whose node is `unknown`, obfuscated or not an
 * address. Quoted strings may hold commas and semicolons.
 */
export function forwardedFor(value: string | null): (string | undefined)[] {
  if (!value) return [];
  const result: (string | undefined)[] = [];
  for (const element of splitOutsideQuotes(value, ",")) {
    let node: string | undefined;
    for (const pair of splitOutsideQuotes(element, ";")) {
      const equals = pair.indexOf("=");
      if (equals < 0 || pair.slice(0, equals).trim().toLowerCase() !== "for") continue;
      node = hostOf(unquote(pair.slice(equals + 1).trim()));
    }
    result.push(node);
  }
  return result;
}

/** The address of a node with an optional port, or undefined. */
function hostOf(node: string): string | undefined {
  if (node.startsWith("[")) {
    const end = node.indexOf("]");
    const rest = node.slice(end + 1);
    if (end < 0 || (rest !== "" && !/^:\d{1,5}$/.test(rest))) return undefined;
    return node.slice(1, end);
  }
  const colon = node.indexOf(":");
  // One colon: IPv4 with a port. More: a bare IPv6 address (X-Forwarded-For writes them so).
  if (colon >= 0 && colon === node.lastIndexOf(":")) {
    if (!/^\d{1,5}$/.test(node.slice(colon + 1))) return undefined;
    return node.slice(0, colon);
  }
  return node;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "\\" && quoted) i++;
    else if (char === '"') quoted = !quoted;
    else if (char === separator && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return value;
}
