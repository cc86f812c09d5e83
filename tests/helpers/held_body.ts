/**
 * Request bodies that arrive in two parts, the second only when the test says: for requests
 * still in flight when a server drains, shuts down or reloads its certificate, or whose client
 * goes away mid-body. Over fetch, or over a raw HTTP/1.1 connection.
 *
 * @module
 */

/** A request body sent in two halves, the second held back until {@linkcode HeldBody.sendRest}. */
export interface HeldBody {
  /** The body to hand to fetch. */
  stream: ReadableStream<Uint8Array>;
  /** Settles once fetch has taken the first half and asks for more. */
  firstHalfSent: Promise<void>;
  /** Lets the second half go. */
  sendRest(): void;
}

/**
 * `text` as a body in two halves: the first goes at once, the second when `sendRest` is called.
 *
 * @example
 * ```ts
 * const body = bodyInTwoHalves(JSON.stringify({ username: "u", password: "p" }));
 * const answer = fetch(url, { method: "POST", body: body.stream, headers });
 * await body.firstHalfSent;
 * body.sendRest();
 * ```
 */
export function bodyInTwoHalves(text: string): HeldBody {
  const bytes = new TextEncoder().encode(text);
  const half = Math.floor(bytes.length / 2);
  const firstHalf = Promise.withResolvers<void>();
  const rest = Promise.withResolvers<void>();
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      pulls++;
      if (pulls === 1) {
        controller.enqueue(bytes.slice(0, half));
      } else if (pulls === 2) {
        firstHalf.resolve();
        await rest.promise;
        controller.enqueue(bytes.slice(half));
      } else {
        controller.close();
      }
    },
  }, { highWaterMark: 0 });
  return { stream, firstHalfSent: firstHalf.promise, sendRest: () => rest.resolve() };
}

/** An answer read off an HTTP/1.1 connection, and when it had arrived in full. */
export interface RawAnswer {
  status: number;
  headers: Headers;
  body: string;
  at: number;
}

/**
 * Reads one HTTP/1.1 answer (with `Content-Length`, or chunked), or fails when the connection ends
 * first.
 */
export async function readAnswer(conn: Deno.Conn): Promise<RawAnswer> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  while (true) {
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const headers = new Headers(lines.map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon), line.slice(colon + 1).trim()] as [string, string];
      }));
      const body = headers.get("transfer-encoding") === "chunked"
        ? dechunked(text.slice(end + 4))
        : text.slice(end + 4);
      if (body !== undefined && body.length >= Number(headers.get("content-length"))) {
        return { status: Number(statusLine.split(" ")[1]), headers, body, at: performance.now() };
      }
    }
    const read = await conn.read(buffer);
    if (read === null) throw new Error(`The connection ended before an answer: ${text}`);
    text += decoder.decode(buffer.subarray(0, read), { stream: true });
  }
}

/** The body of a chunked message once its last chunk has arrived, else undefined. */
function dechunked(text: string): string | undefined {
  let body = "";
  let at = 0;
  while (true) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (size === 0) return text.indexOf("\r\n", lineEnd + 2) >= 0 ? body : undefined;
    const start = lineEnd + 2;
    if (text.length < start + size + 2) return undefined;
    body += text.slice(start, start + size);
    at = start + size + 2;
  }
}

/** A login under way on a connection of its own; disposing it closes the connection. */
export interface LoginInTwoParts extends Disposable {
  /** Settles with the answer. */
  answer: Promise<RawAnswer>;
  /** Sends the second half of the body. */
  sendRest(): Promise<number>;
  /** Closes the connection, as a client going away does; again, it does nothing. */
  close(): void;
}

/**
 * A `POST /login` on a connection of its own, over HTTP/1.1 (where Deno cuts off a body still
 * arriving when its listener closes): the head and half the body go at once, the rest on
 * `sendRest`.
 */
export async function loginInTwoParts(
  url: string,
  caPem: string,
  credentials: Record<string, string>,
): Promise<LoginInTwoParts> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connectTls({
    hostname,
    port: Number(port),
    caCerts: [caPem],
    alpnProtocols: ["http/1.1"],
  });
  const encoder = new TextEncoder();
  const body = encoder.encode(JSON.stringify(credentials));
  const half = Math.floor(body.length / 2);
  await conn.write(encoder.encode(
    `POST /login HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`,
  ));
  await conn.write(body.subarray(0, half));
  const close = () => {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  };
  const answer = readAnswer(conn);
  answer.catch(() => {}); // awaited by the test
  return {
    answer,
    sendRest: () => conn.write(body.subarray(half)),
    close,
    [Symbol.dispose]: close,
  };
}
