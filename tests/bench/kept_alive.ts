/**
 * One kept-alive HTTPS/1.1 connection that times each request as a relying party would see it:
 * every request leaves in one write, and the kernel's delayed ACKs stay on, so an answer held back
 * by Nagle's algorithm shows as ~40 ms. Answers are read with `Content-Length` or chunked framing.
 *
 * @module
 */

/** One answer and how long it took, from the request's write to its last byte. */
export interface TimedAnswer {
  status: number;
  headers: Headers;
  body: string;
  ms: number;
}

const CRLF = "\r\n";
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A connection to one origin; requests go one at a time. */
export class KeptAliveConnection {
  readonly #conn: Deno.TlsConn;
  readonly #authority: string;
  #buffer = new Uint8Array(0);

  private constructor(conn: Deno.TlsConn, authority: string) {
    this.#conn = conn;
    this.#authority = authority;
  }

  /** Connects to `origin` (https), trusting `caPem`, asking for HTTP/1.1. */
  static async open(origin: string, caPem: string): Promise<KeptAliveConnection> {
    const url = new URL(origin);
    const conn = await Deno.connectTls({
      hostname: url.hostname,
      port: Number(url.port || 443),
      caCerts: [caPem],
      alpnProtocols: ["http/1.1"],
    });
    return new KeptAliveConnection(conn, url.host);
  }

  /** Sends one request and reads its whole answer. */
  async request(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string } = {},
  ): Promise<TimedAnswer> {
    const body = options.body ?? "";
    const lines = [`${method} ${path} HTTP/1.1`, `host: ${this.#authority}`];
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      lines.push(`${name}: ${value}`);
    }
    if (body !== "" || method === "POST") {
      lines.push(`content-length: ${encoder.encode(body).length}`);
    }
    const message = encoder.encode(lines.join(CRLF) + CRLF + CRLF + body);
    const started = performance.now();
    let written = 0;
    while (written < message.length) written += await this.#conn.write(message.subarray(written));
    const head = decoder.decode(await this.#readUntil(encoder.encode(CRLF + CRLF)));
    const [statusLine, ...fields] = head.split(CRLF);
    const status = Number(statusLine.split(" ")[1]);
    const headers = new Headers();
    for (const field of fields) {
      if (field === "") continue;
      const colon = field.indexOf(":");
      headers.append(field.slice(0, colon).trim(), field.slice(colon + 1).trim());
    }
    let answer: Uint8Array;
    if (method === "HEAD" || status === 204 || status === 304) {
      answer = new Uint8Array(0);
    } else if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
      answer = await this.#readChunked();
    } else {
      answer = await this.#readExactly(Number(headers.get("content-length") ?? 0));
    }
    const ms = performance.now() - started;
    if (headers.get("connection")?.toLowerCase() === "close") {
      throw new Error(`${method} ${path}: the server closed the connection`);
    }
    return { status, headers, body: decoder.decode(answer), ms };
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #readChunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const sizeLine = decoder.decode(await this.#readUntil(encoder.encode(CRLF)));
      const size = parseInt(sizeLine.split(";")[0], 16);
      if (!Number.isFinite(size)) throw new Error(`Bad chunk size line "${sizeLine}"`);
      if (size === 0) {
        await this.#readUntil(encoder.encode(CRLF));
        break;
      }
      parts.push(await this.#readExactly(size));
      await this.#readExactly(2);
    }
    const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    return whole;
  }

  /** Reads up to and past `delimiter`; returns what came before it. */
  async #readUntil(delimiter: Uint8Array): Promise<Uint8Array> {
    for (;;) {
      const at = indexOf(this.#buffer, delimiter);
      if (at >= 0) {
        const before = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + delimiter.length);
        return before;
      }
      await this.#fill();
    }
  }

  async #readExactly(length: number): Promise<Uint8Array> {
    while (this.#buffer.length < length) await this.#fill();
    const bytes = this.#buffer.slice(0, length);
    this.#buffer = this.#buffer.slice(length);
    return bytes;
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const read = await this.#conn.read(chunk);
    if (read === null) throw new Error("The server closed the connection");
    const grown = new Uint8Array(this.#buffer.length + read);
    grown.set(this.#buffer);
    grown.set(chunk.subarray(0, read), this.#buffer.length);
    this.#buffer = grown;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
