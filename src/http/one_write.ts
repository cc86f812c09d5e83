/**
 * @module
 * Answers that leave in one write, so that no kept-alive HTTPS/1.1 client waits ~40 ms for one.
 *
 * Deno 2.9 does not set `TCP_NODELAY` on the sockets `Deno.serve` accepts for TLS, and offers no
 * way to. Its HTTP/1.1 server copies a fixed-length body behind the head only when both fit in
 * the connection's head buffer (512 bytes at first, then the power of two above the largest head
 * the connection has sent); a body that does not fit follows in a second TLS record and a second
 * write, which Nagle's algorithm holds until the client acknowledges the first, and clients
 * delay that ACK by 40 ms. A body given as a one-chunk stream leaves with its head in one write
 * (chunked framing) whatever the head, up to one TLS record of 16 KiB.
 *
 * So the bodies the `http` helpers build are remembered here, and {@linkcode inOneWrite} turns
 * an answer whose head and body might not share the buffer into a one-chunk stream; the others
 * keep Deno's faster fixed-length path. It never reads a body it did not build. Drop it once
 * Deno sets `TCP_NODELAY` on accepted connections (`tests/bench/nagle_repro.ts` shows whether).
 */

/** The text of the bodies built by {@linkcode textResponse}, until they are sent. */
const bodies = new WeakMap<Response, string>();

/** The head buffer's smallest size: the head and body fit below it, or share a write by luck. */
const HEAD_BUFFER_BYTES = 512;

/**
 * What the head holds beyond the headers of the `Response` and the digits of `content-length`:
 * the status line without its reason phrase ("HTTP/1.1 200 \r\n"), "content-length: \r\n",
 * the `date` field and the blank line.
 */
const HEAD_FRAME_BYTES = 15 + 18 + 37 + 2;

/** The longest reason phrase of a status line ("Network Authentication Required"), rounded up. */
const REASON_BYTES = 32;

const encoder = new TextEncoder();

/** A response whose body is `text`, remembered so that {@linkcode inOneWrite} may resend it. */
export function textResponse(text: string, init: { status?: number } = {}): Response {
  const res = new Response(text, init);
  bodies.set(res, text);
  return res;
}

/** Header fields set after {@linkcode inOneWrite}, counted once: see {@linkcode laterHeaders}. */
export interface LaterHeaders {
  readonly setNames: ReadonlySet<string>;
  readonly setBytes: number;
  readonly whenAbsent: readonly (readonly [name: string, bytes: number])[];
}

/**
 * The header fields a caller sets after {@linkcode inOneWrite}: `set` whatever the answer has
 * (replacing a field of that name), `whenAbsent` only where the answer has none. Values need only
 * have their final length.
 */
export function laterHeaders(
  set: Record<string, string>,
  whenAbsent: Record<string, string> = {},
): LaterHeaders {
  const bytes = ([name, value]: [string, string]) => [name, fieldBytes(name, value)] as const;
  return {
    setNames: new Set(Object.keys(set)),
    setBytes: Object.entries(set).map(bytes).reduce((sum, [, size]) => sum + size, 0),
    whenAbsent: Object.entries(whenAbsent).map(bytes),
  };
}

/** No header set afterwards. */
const NO_LATER_HEADERS = laterHeaders({});

/** The bytes a header field takes in the head: `name: value\r\n`. */
function fieldBytes(name: string, value: string): number {
  return name.length + value.length + 4;
}

/**
 * The answer to hand to `Deno.serve`: `res` itself, or, when its head and body might leave in
 * two writes, the same answer with its body as a one-chunk stream. Call it once every header is
 * set but `later`, which is cheaper to count than to read back.
 */
export function inOneWrite(res: Response, later: LaterHeaders = NO_LATER_HEADERS): Response {
  const text = bodies.get(res);
  if (text === undefined || text === "") return res;
  const bodyBytes = utf8Length(text);
  const headers = res.headers;
  const { setNames, whenAbsent } = later;
  let headerBytes = later.setBytes;
  headers.forEach((value, name) => {
    if (!setNames.has(name)) headerBytes += fieldBytes(name, value);
  });
  for (const [name, bytes] of whenAbsent) if (!headers.has(name)) headerBytes += bytes;
  const least = HEAD_FRAME_BYTES + String(bodyBytes).length + headerBytes;
  const most = least + REASON_BYTES;
  if (most + bodyBytes <= headBufferBytes(least)) return res;
  const chunk = encoder.encode(text);
  const streamed = new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.close();
      },
    }),
    { status: res.status, statusText: res.statusText },
  );
  // Appending each field is several times cheaper in Deno than `new Headers(res.headers)`.
  const copy = streamed.headers;
  headers.forEach((value, name) => {
    if (name !== "content-length") copy.append(name, value);
  });
  return streamed;
}

/** The head buffer's size for a head of at least `headBytes`: it doubles from 512 to hold it. */
function headBufferBytes(headBytes: number): number {
  let size = HEAD_BUFFER_BYTES;
  while (size < headBytes) size *= 2;
  return size;
}

// deno-lint-ignore no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

function utf8Length(text: string): number {
  return NON_ASCII.test(text) ? encoder.encode(text).byteLength : text.length;
}
