/**
 * @module
 * Client addresses below the routes: IP parsing and RFC 5952 formatting, CIDR ranges and matching,
 * IPv6 grouping by prefix, reading X-Forwarded-For and Forwarded (RFC 7239), and the resolver that
 * believes forwarding headers only from trusted proxies, taking the right-most address that is not
 * a proxy.
 */
import assert from "node:assert/strict";
import {
  type ClientAddressOptions,
  createClientAddressResolver,
  DEFAULT_CLIENT_ADDRESS,
  forwardedFor,
  xForwardedFor,
} from "../src/http/client_address.ts";
import {
  addressGroup,
  formatIp,
  inRange,
  type IpRange,
  parseIp,
  parseIpRange,
} from "../src/net/ip.ts";

function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip && formatIp(ip);
}

function range(text: string): IpRange {
  const parsed = parseIpRange(text);
  assert.ok(parsed, text);
  return parsed;
}

function matches(address: string, cidr: string): boolean {
  const ip = parseIp(address);
  assert.ok(ip, address);
  return inRange(ip, range(cidr));
}

Deno.test("parseIp reads IPv4 dotted quads and refuses anything looser", () => {
  assert.equal(canonicalIp("192.0.2.1"), "192.0.2.1");
  assert.equal(canonicalIp("0.0.0.0"), "0.0.0.0");
  assert.equal(canonicalIp("255.255.255.255"), "255.255.255.255");
  for (
    const text of [
      "256.0.0.1",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1.2.3.4 ",
      "0x7f.0.0.1",
      "",
      "a.b.c.d",
      "1..2.3",
    ]
  ) {
    assert.equal(parseIp(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parseIp reads IPv6 in every spelling and formatIp writes RFC 5952", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["::1", "::1"],
    ["::", "::"],
    ["1::", "1::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not compressed
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run
    ["fe80::1:2:3:4", "fe80::1:2:3:4"],
    ["::ffff:192.0.2.1", "192.0.2.1"], // IPv4-mapped counts as IPv4
    ["::FFFF:c000:0201", "192.0.2.1"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
  ];
  for (const [text, canonical] of cases) assert.equal(canonicalIp(text), canonical, text);
  for (
    const text of [
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      ":1::",
      "1:::2",
      "g::1",
      "fe80::1%eth0",
      "[::1]",
      "1.2.3.4::",
      "::1.2.3",
    ]
  ) {
    assert.equal(parseIp(text), undefined, JSON.stringify(text));
  }
  assert.equal(parseIp("192.0.2.1")?.v4, true);
  assert.equal(parseIp("2001:db8::1")?.v4, false);
  assert.equal(formatIp(parseIp("1:2:3:4:5:6:7:8")!), "1:2:3:4:5:6:7:8");
});

Deno.test("parseIpRange reads CIDR ranges and single addresses, and refuses bad prefixes", () => {
  assert.equal(range("10.0.0.0/8").prefixLength, 104);
  assert.equal(range("192.0.2.7").prefixLength, 128);
  assert.equal(range("2001:db8::/32").prefixLength, 32);
  assert.equal(range("::1").prefixLength, 128);
  assert.equal(range("0.0.0.0/0").prefixLength, 96);
  for (
    const text of [
      "10.0.0.0/33",
      "2001:db8::/129",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "host/8",
      "/8",
      "10.0.0.0/08a",
    ]
  ) {
    assert.equal(parseIpRange(text), undefined, text);
  }
});

Deno.test("inRange matches by prefix, across byte boundaries, and keeps IPv4 and IPv6 apart", () => {
  assert.ok(matches("10.1.2.3", "10.0.0.0/8"));
  assert.ok(!matches("11.0.0.1", "10.0.0.0/8"));
  assert.ok(matches("172.31.255.255", "172.16.0.0/12"));
  assert.ok(!matches("172.32.0.0", "172.16.0.0/12"));
  assert.ok(matches("192.0.2.7", "192.0.2.7"));
  assert.ok(!matches("192.0.2.8", "192.0.2.7"));
  assert.ok(matches("192.0.2.200", "192.0.2.129/25"), "host bits of the range are ignored");
  assert.ok(matches("203.0.113.9", "0.0.0.0/0"));
  assert.ok(!matches("2001:db8::1", "0.0.0.0/0"), "an IPv4 range holds no IPv6 address");
  assert.ok(matches("2001:db8:ffff::1", "2001:db8::/32"));
  assert.ok(!matches("2001:db9::1", "2001:db8::/32"));
  assert.ok(matches("::ffff:10.0.0.1", "10.0.0.0/8"), "IPv4-mapped matches IPv4 ranges");
  assert.ok(matches("::1", "::1"));
  assert.ok(!matches("::2", "::1"));
});

Deno.test("addressGroup keeps IPv4 and groups IPv6 by prefix", () => {
  assert.equal(addressGroup("192.0.2.1", 64), "192.0.2.1");
  assert.equal(addressGroup("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64), "2001:db8:1:2::/64");
  assert.equal(addressGroup("2001:db8:1:2::1", 64), addressGroup("2001:db8:1:2:ffff::9", 64));
  assert.notEqual(addressGroup("2001:db8:1:2::1", 64), addressGroup("2001:db8:1:3::1", 64));
  assert.equal(addressGroup("2001:db8:1:2::1", 48), "2001:db8:1::/48");
  assert.equal(addressGroup("2001:db8:1:2::1", 56), "2001:db8:1::/56");
  assert.equal(addressGroup("2001:db8:1:2ff::1", 56), "2001:db8:1:200::/56");
  assert.equal(addressGroup("2001:DB8::1", 128), "2001:db8::1");
  assert.equal(addressGroup("::ffff:192.0.2.1", 64), "192.0.2.1");
  assert.equal(addressGroup("not-an-address", 64), "not-an-address");
});

Deno.test("xForwardedFor reads addresses left to right, dropping ports and spaces", () => {
  assert.deepEqual(xForwardedFor(null), []);
  assert.deepEqual(xForwardedFor("203.0.113.7"), ["203.0.113.7"]);
  assert.deepEqual(
    xForwardedFor(" 203.0.113.7 ,198.51.100.1:4711, 2001:db8::1, [2001:db8::2]:443,unknown"),
    ["203.0.113.7", "198.51.100.1", "2001:db8::1", "2001:db8::2", "unknown"],
  );
  assert.deepEqual(xForwardedFor("1.2.3.4:port, [::1]x, [::1"), [undefined, undefined, undefined]);
});

Deno.test("forwardedFor reads the for= node of each RFC 7239 element", () => {
  assert.deepEqual(forwardedFor(null), []);
  assert.deepEqual(
    forwardedFor(
      'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", ' +
        'proto=https, for=unknown, for="_hidden", by=10.0.0.1;for=198.51.100.17:80',
    ),
    ["192.0.2.60", "2001:db8:cafe::17", undefined, "unknown", "_hidden", "198.51.100.17"],
  );
  // A quoted value may hold separators; it stays one value.
  assert.deepEqual(forwardedFor('for="1.2.3.4, for=5.6.7.8;x";by=a, for=9.9.9.9'), [
    "1.2.3.4, for=5.6.7.8;x",
    "9.9.9.9",
  ]);
});

/** A request whose headers may not be read at all. */
const UNREADABLE = {
  headers: {
    get() {
      throw new Error("Headers were read");
    },
  },
} as unknown as Request;

function request(headers: Record<string, string>): Request {
  return new Request("https://api.test/login", { headers });
}

/** The resolver for `options`, answering only the address and the group. */
function resolver(options: Partial<ClientAddressOptions> = {}) {
  const resolve = createClientAddressResolver({ ...DEFAULT_CLIENT_ADDRESS, ...options });
  return (req: Request, peer: string) => {
    const { address, group } = resolve(req, peer);
    return { address, group };
  };
}

Deno.test("the client address is the TCP peer, without reading a header, when no proxy is trusted", () => {
  const resolve = resolver();
  assert.deepEqual(resolve(UNREADABLE, "203.0.113.7"), {
    address: "203.0.113.7",
    group: "203.0.113.7",
  });
  assert.deepEqual(resolve(UNREADABLE, "::ffff:203.0.113.7"), {
    address: "203.0.113.7",
    group: "203.0.113.7",
  });
  assert.deepEqual(resolve(UNREADABLE, "2001:db8:1:2::7"), {
    address: "2001:db8:1:2::7",
    group: "2001:db8:1:2::/64",
  });
  assert.deepEqual(
    resolver({ ipv6PrefixLength: 56 })(UNREADABLE, "2001:db8:1:2::7").group,
    "2001:db8:1::/56",
  );
});

Deno.test("forwarding headers from a peer that is not a trusted proxy are never read", () => {
  const resolve = resolver({ trustedProxies: [range("10.0.0.0/8")] });
  assert.equal(resolve(UNREADABLE, "203.0.113.7").address, "203.0.113.7");
  const spoofed = request({ "x-forwarded-for": "198.51.100.1", forwarded: "for=198.51.100.2" });
  assert.equal(resolve(spoofed, "203.0.113.7").address, "203.0.113.7");
});

Deno.test("behind trusted proxies the client is the right-most X-Forwarded-For address that is not a proxy", () => {
  const resolve = resolver({ trustedProxies: [range("10.0.0.0/8"), range("2001:db8:ffff::/48")] });
  const peer = "10.0.0.2";
  const cases: [string | undefined, string][] = [
    [undefined, "10.0.0.2"], // no header: the proxy itself
    ["", "10.0.0.2"],
    ["203.0.113.7", "203.0.113.7"],
    // What the client wrote itself comes first and is passed over.
    ["1.1.1.1, 203.0.113.7", "203.0.113.7"],
    ["1.1.1.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"],
    ["1.1.1.1, 203.0.113.7, 2001:db8:ffff::3, 10.0.0.9", "203.0.113.7"],
    ["203.0.113.7:5555", "203.0.113.7"],
    ["2001:DB8:1::7", "2001:db8:1::7"],
    ["[2001:db8:1::7]:443", "2001:db8:1::7"],
    // Every hop a proxy: the left-most.
    ["10.0.0.7, 10.0.0.8", "10.0.0.7"],
    // A hop that is not an address ends the walk at the last proxy that vouched.
    ["203.0.113.7, unknown", "10.0.0.2"],
    ["203.0.113.7, garbage, 10.0.0.9", "10.0.0.9"],
  ];
  for (const [header, expected] of cases) {
    const req = request(header === undefined ? {} : { "x-forwarded-for": header });
    assert.equal(resolve(req, peer).address, expected, JSON.stringify(header));
  }
  const grouped = resolve(request({ "x-forwarded-for": "2001:db8:1:2::7" }), peer);
  assert.deepEqual(grouped, { address: "2001:db8:1:2::7", group: "2001:db8:1:2::/64" });
});

Deno.test("behind trusted proxies configured for Forwarded only that header counts", () => {
  const resolve = resolver({ trustedProxies: [range("10.0.0.0/8")], proxyHeader: "forwarded" });
  const peer = "10.0.0.2";
  const req = (headers: Record<string, string>) => resolve(request(headers), peer).address;
  assert.equal(req({ forwarded: "for=203.0.113.7;proto=https" }), "203.0.113.7");
  assert.equal(req({ forwarded: 'for="[2001:db8::7]:80", for=10.0.0.5' }), "2001:db8::7");
  assert.equal(req({ forwarded: "for=1.1.1.1, for=203.0.113.7" }), "203.0.113.7");
  assert.equal(req({ forwarded: "for=203.0.113.7, for=_hidden" }), "10.0.0.2");
  assert.equal(req({ forwarded: "for=203.0.113.7, proto=https" }), "10.0.0.2");
  // X-Forwarded-For is ignored, so a client cannot use it against a proxy that does not strip it.
  assert.equal(req({ "x-forwarded-for": "198.51.100.1" }), "10.0.0.2");
  assert.equal(
    req({ "x-forwarded-for": "198.51.100.1", forwarded: "for=203.0.113.7" }),
    "203.0.113.7",
  );
});

Deno.test("a trusted proxy on an IPv4-mapped peer address is recognised", () => {
  const resolve = resolver({ trustedProxies: [range("127.0.0.1")] });
  const req = request({ "x-forwarded-for": "203.0.113.7" });
  assert.equal(resolve(req, "::ffff:127.0.0.1").address, "203.0.113.7");
  assert.equal(resolve(req, "127.0.0.2").address, "127.0.0.2");
});

Deno.test("the resolver stays right for more peers than its cache holds", () => {
  const resolve = resolver({ trustedProxies: [range("10.0.0.0/8")] });
  const req = request({ "x-forwarded-for": "203.0.113.7" });
  for (let i = 0; i < 3000; i++) {
    const peer = `${i % 2 ? 10 : 11}.0.${(i >> 8) & 255}.${i & 255}`;
    assert.equal(resolve(req, peer).address, i % 2 ? "203.0.113.7" : peer);
  }
});
