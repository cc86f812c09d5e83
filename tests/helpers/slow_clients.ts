/**
 * Slow and idle clients, as an attacker would hold them open: real sockets from a chosen
 * loopback source address (127.0.0.2, 127.0.0.3 … are all local on Linux), each recording when
 * the server closed it. Used by the slow-client tests and by `deno task bench`.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";

/**
 * What a slow connection does:
 * - `silent`: connects and sends nothing, not even a TLS ClientHello;
 * - `hello_trickle`: sends a real ClientHello one byte per interval, so the handshake never ends;
 * - `tls_silent`: completes the TLS handshake, then sends nothing;
 * - `header_trickle`: completes the handshake, then sends a request head one byte per interval;
 * - `body_trickle`: sends a whole `POST /login` head, then its 64-byte body one byte per interval;
 * - `idle`: sends one whole request, reads the answer, then keeps the connection idle.
 */
export type SlowKind =
  | "silent"
  | "hello_trickle"
  | "tls_silent"
  | "header_trickle"
  | "body_trickle"
  | "idle";

/** Every kind, in the order above. */
export const SLOW_KINDS: readonly SlowKind[] = [
  "silent",
  "hello_trickle",
  "tls_silent",
  "header_trickle",
  "body_trickle",
  "idle",
];

/** Where and how slow connections connect. */
export interface SlowTarget {
  /** Port of the HTTPS server, on 127.0.0.1. */
  port: number;
  /** Certificate (or CA) the server's certificate is checked against. */
  caPem: string;
  /** Name in the server's certificate. */
  serverName: string;
  /** Time between two trickled bytes; 500 ms when absent. */
  trickleIntervalMs?: number;
}

/** One slow connection and what happened to it. */
export interface SlowConnection {
  kind: SlowKind;
  localAddress: string;
  /** `performance.now()` when it started to connect. */
  connectedAt: number;
  /** Whether the TCP connection was made. */
  connected: boolean;
  /** `performance.now()` when the server closed or reset it; undefined while open. */
  closedAt?: number;
  /** Whether its TLS handshake completed. */
  handshook: boolean;
  /** The first bytes the server answered, if any (for example a 408 status line). */
  answer: string;
  /** Closes it from the client side. */
  close(): void;
}

let capturedHello: Promise<Uint8Array> | undefined;

/**
 * Opens one slow connection of `kind` from `localAddress`; resolves once it is in its slow state
 * (connected, or handshaken for the kinds that need it) or has already been closed.
 */
export async function openSlowConnection(
  kind: SlowKind,
  localAddress: string,
  target: SlowTarget,
): Promise<SlowConnection> {
  const interval = target.trickleIntervalMs ?? 500;
  const hello = kind === "hello_trickle" ? await clientHello() : undefined;
  const connectedAt = performance.now();
  const socket = net.connect({ host: "127.0.0.1", port: target.port, localAddress });
  const connection: SlowConnection = {
    kind,
    localAddress,
    connectedAt,
    connected: false,
    handshook: false,
    answer: "",
    close: () => stream.destroy(),
  };
  let stream: net.Socket = socket;
  let timer: ReturnType<typeof setInterval> | undefined;
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      connection.closedAt ??= performance.now();
      clearInterval(timer);
      resolve();
    };
    socket.on("close", done);
    socket.on("error", done);
  });
  await new Promise<void>((resolve) => {
    socket.once("connect", () => {
      connection.connected = true;
      resolve();
    });
    socket.once("error", () => resolve());
  });
  if (!connection.connected || connection.closedAt !== undefined) {
    connection.closedAt ??= performance.now();
    return connection;
  }
  const trickle = (bytes: Uint8Array) => {
    let next = 0;
    timer = setInterval(() => {
      if (next < bytes.length) stream.write(bytes.subarray(next, ++next));
    }, interval);
  };
  if (kind === "silent") {
    socket.resume();
    return connection;
  }
  if (kind === "hello_trickle") {
    socket.resume();
    trickle(hello!);
    return connection;
  }
  const secure = tls.connect({
    socket,
    ca: target.caPem,
    servername: target.serverName,
    ALPNProtocols: ["http/1.1"],
  });
  stream = secure;
  secure.on("data", (chunk: Uint8Array) => {
    if (connection.answer.length < 200) connection.answer += new TextDecoder().decode(chunk);
  });
  secure.on("error", () => {});
  const handshook = await Promise.race([
    new Promise<boolean>((resolve) => secure.once("secureConnect", () => resolve(true))),
    closed.then(() => false),
  ]);
  if (!handshook) return connection;
  connection.handshook = true;
  const host = `Host: ${target.serverName}\r\n`;
  if (kind === "header_trickle") {
    secure.write(`GET /hello HTTP/1.1\r\n${host}`);
    trickle(new TextEncoder().encode(`X-Slow: ${"a".repeat(4000)}`));
  } else if (kind === "body_trickle") {
    secure.write(
      `POST /login HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 64\r\n\r\n`,
    );
    trickle(new TextEncoder().encode(`{"username":"user1","password":"${"p".repeat(30)}"}`));
  } else if (kind === "idle") {
    secure.write(`GET /hello HTTP/1.1\r\n${host}\r\n`);
  }
  return connection;
}

/** Many slow connections, closed from the client side on dispose. */
export interface SlowClients extends AsyncDisposable {
  connections: SlowConnection[];
  /** How many the server has closed so far. */
  closedCount(): number;
}

/**
 * Opens `count` connections of each kind in `kinds`, spread over source addresses 127.0.0.2 and
 * up with at most `perAddress` on each, a few at a time.
 */
export async function openSlowClients(
  target: SlowTarget,
  { kinds, count, perAddress, firstAddress = 2 }: {
    kinds: readonly SlowKind[];
    count: number;
    perAddress: number;
    /** Last byte of the first source address, 127.0.0.N. */
    firstAddress?: number;
  },
): Promise<SlowClients> {
  const plan: { kind: SlowKind; localAddress: string }[] = [];
  for (const kind of kinds) {
    for (let i = 0; i < count; i++) {
      const n = firstAddress + Math.floor(plan.length / perAddress);
      plan.push({ kind, localAddress: `127.0.${n >> 8}.${n & 255}` });
    }
  }
  const connections: SlowConnection[] = [];
  const BATCH = 50;
  for (let i = 0; i < plan.length; i += BATCH) {
    connections.push(
      ...await Promise.all(
        plan.slice(i, i + BATCH).map(({ kind, localAddress }) =>
          openSlowConnection(kind, localAddress, target)
        ),
      ),
    );
  }
  return {
    connections,
    closedCount: () => connections.filter((c) => c.closedAt !== undefined).length,
    async [Symbol.asyncDispose]() {
      for (const connection of connections) connection.close();
      const deadline = Date.now() + 5000;
      while (connections.some((c) => c.closedAt === undefined) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/**
 * A real TLS ClientHello, captured once from Deno's own TLS client. It names no server (Deno
 * sends no SNI for an IP address), which servers accept: SNI is optional.
 */
function clientHello(): Promise<Uint8Array> {
  capturedHello ??= captureClientHello();
  return capturedHello;
}

async function captureClientHello(): Promise<Uint8Array> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connectTls({ hostname: "127.0.0.1", port: listener.addr.port });
  const handshake = client.handshake().catch(() => {});
  using server = await listener.accept();
  const buffer = new Uint8Array(4096);
  const n = await server.read(buffer);
  client.close();
  await handshake;
  if (!n) throw new Error("Captured no ClientHello");
  return buffer.slice(0, n);
}
