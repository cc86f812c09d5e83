/**
 * @module
 * Reading request bodies with limits on size and time, as JSON or as a form.
 */
import { BodyCutShortError, HttpError } from "./errors.ts";

/** Limits for reading a request body. */
export interface BodyLimits {
  maxBytes: number;
  /** The whole body must arrive within this time, so a client that dribbles it is cut off. */
  timeoutMs: number;
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const FORM_MEDIA_TYPE = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;

/**
 * Reads a JSON request body: 415 unless the content type is JSON, 413 past `maxBytes` (without
 * reading the rest), 408 when it is too slow, 400 when it is not valid UTF-8 JSON or its
 * connection ends first ({@linkcode BodyCutShortError}). After a 415 or a 413 the body is left
 * unlocked for {@linkcode settleBody}.
 */
export async function readJsonBody(req: Request, limits: BodyLimits): Promise<unknown> {
  const text = await readText(req, limits, JSON_MEDIA_TYPE, "application/json");
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "Request body is not valid JSON");
  }
}

/**
 * Reads an `application/x-www-form-urlencoded` body (as OAuth 2.0 endpoints take), with the same
 * limits and errors as {@linkcode readJsonBody}.
 */
export async function readFormBody(req: Request, limits: BodyLimits): Promise<URLSearchParams> {
  return new URLSearchParams(
    await readText(req, limits, FORM_MEDIA_TYPE, "application/x-www-form-urlencoded"),
  );
}

async function readText(
  req: Request,
  limits: BodyLimits,
  mediaType: RegExp,
  mediaTypeName: string,
): Promise<string> {
  // On these early errors the body is left for settleBody, which reads it before answering.
  if (!mediaType.test(req.headers.get("content-type") ?? "")) {
    throw new HttpError(415, `Content-Type must be ${mediaTypeName}`);
  }
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > limits.maxBytes) throw tooLarge(limits.maxBytes);
  const bytes = await readLimited(req, limits);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "Request body is not valid UTF-8");
  }
}

async function readLimited(req: Request, { maxBytes, timeoutMs }: BodyLimits): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(408, "Request body took too long")), timeoutMs);
  });
  try {
    while (true) {
      const { done, value } = await Promise.race([reader.read(), timeout]);
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        // No read is pending: the rest of the body is left for settleBody.
        oversized.add(req);
        reader.releaseLock();
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 413)) reader.cancel().catch(() => {});
    // Deno reports a connection gone mid-body, on either side, as an unreadable resource.
    throw error instanceof HttpError ? error : new BodyCutShortError();
  } finally {
    clearTimeout(timer);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * Makes `cancel()` on a request body a no-op, so that a handler with no use for the body (such as
 * `/logout`) leaves it to {@linkcode settleBody} instead of dropping it unread.
 */
export function deferBodyCancel(body: ReadableStream<Uint8Array>): void {
  Object.defineProperty(body, "cancel", { value: () => Promise.resolve(), configurable: true });
}

/** Statuses whose responses carry no body, so they cannot be held open. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * How much of a body larger than the limit is read and dropped while its answer is held open, in
 * multiples of `maxBytes`: 64 × 16 KiB is the 1 MiB a client may send on an HTTP/2 stream of
 * `Deno.serve` before it waits for the server to read anyway.
 */
const LINGER_FACTOR = 64;

/** Requests whose body `readLimited` found larger than the limit. */
const oversized = new WeakSet<Request>();

/**
 * Returns the answer to send once what is left of the request body has been dealt with.
 *
 * `Deno.serve` resets an HTTP/2 stream (`RST_STREAM` NO_ERROR) as soon as the answer is sent if
 * the request body has not been read to its end, and clients such as curl 7.88 lose the answer
 * when that reset reaches them while they are still sending. So a body within `maxBytes` is read
 * to its end (and dropped) before answering. Over HTTP/2 a larger one is answered at once, with
 * `Content-Length`, in a response kept open while up to 64 × `maxBytes` more are dropped: it ends
 * when the body does, when the client goes away (curl does once it has the answer), or else at
 * the deadline, so the reset comes after the client has the answer. All of it happens within
 * `timeoutMs`, and nothing read is kept.
 */
export async function settleBody(
  req: Request,
  res: Response,
  limits: BodyLimits,
): Promise<Response> {
  const body = req.body;
  if (!body || body.locked) return res;
  const reader = body.getReader();
  const deadline = performance.now() + limits.timeoutMs;
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (!oversized.has(req) && !(declared > limits.maxBytes)) {
    if (await discard(reader, limits.maxBytes, deadline) !== "more") return res;
  }
  if (canLinger(req, res)) return lingering(res, reader, limits.maxBytes * LINGER_FACTOR, deadline);
  reader.cancel().catch(() => {});
  return res;
}

/**
 * Whether the answer can be held open over HTTP/2. HTTP/1.1 requests always carry `Host`, while
 * HTTP/2 ones carry `:authority`, which Deno does not turn into `Host`. Over HTTP/1.1 Deno ends
 * the answer once its `Content-Length` is sent, and reading on meanwhile only moves the close of
 * the connection to where clients that send the whole body first (Python's requests) fail.
 */
function canLinger(req: Request, res: Response): boolean {
  return res.body !== null && !NULL_BODY_STATUSES.has(res.status) && req.method !== "HEAD" &&
    !req.headers.has("host");
}

/** `res` with `Content-Length`, its body kept open while up to `maxBytes` more are dropped. */
async function lingering(
  res: Response,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxBytes: number,
  deadline: number,
): Promise<Response> {
  const answer = new Uint8Array(await res.arrayBuffer());
  const headers = new Headers(res.headers);
  headers.set("content-length", String(answer.byteLength));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(answer);
      const finish = () => {
        try {
          controller.close();
        } catch {
          // Deno already ended the response: the client went away.
        }
        reader.cancel().catch(() => {});
      };
      discard(reader, maxBytes, deadline).then((outcome) => {
        // Past the budget nothing more is read: the client, blocked by flow control, reads the
        // answer and goes away (Deno then cancels this stream), or the deadline ends it.
        if (outcome !== "more") return finish();
        timer = setTimeout(finish, Math.max(0, deadline - performance.now()));
      });
    },
    cancel() {
      clearTimeout(timer);
      reader.cancel().catch(() => {});
    },
  });
  return new Response(stream, { status: res.status, statusText: res.statusText, headers });
}

/**
 * Reads and drops the body until it ends ("end"), more than `maxBytes` have come ("more"), or the
 * deadline passes or the body fails ("stopped"; it is then cancelled).
 */
async function discard(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxBytes: number,
  deadline: number,
): Promise<"end" | "more" | "stopped"> {
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"stopped">((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - performance.now()), "stopped");
  });
  try {
    while (true) {
      const result = await Promise.race([reader.read(), timeout]);
      if (result === "stopped") break;
      if (result.done) return "end";
      size += result.value.byteLength;
      if (size > maxBytes) return "more";
    }
  } catch {
    // The client went away or reset the stream: nothing is left to read.
  } finally {
    clearTimeout(timer);
  }
  reader.cancel().catch(() => {});
  return "stopped";
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `Request body is larger than ${maxBytes} bytes`);
}
