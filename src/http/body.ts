/**
 * @module
 * Reading request bodies with limits on size and time, as JSON or as a form.
 */
import { HttpError } from "./errors.ts";

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
 * reading the rest), 408 when it is too slow, 400 when it is not valid UTF-8 JSON.
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
  if (!mediaType.test(req.headers.get("content-type") ?? "")) {
    await req.body?.cancel();
    throw new HttpError(415, `Content-Type must be ${mediaTypeName}`);
  }
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > limits.maxBytes) {
    await req.body?.cancel();
    throw tooLarge(limits.maxBytes);
  }
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
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
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

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `Request body is larger than ${maxBytes} bytes`);
}
