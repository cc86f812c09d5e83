/**
 * Request bodies that arrive in two parts, the second only when the test says: for requests
 * still in flight when a server drains, shuts down or reloads its certificate.
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
