/**
 * @module
 * The requests a listener has accepted and not yet answered, so that a shutdown can let them
 * finish before it closes the listener: `Deno.serve` cuts off a request body still arriving when
 * its listener shuts down. It counts requests and knows nothing of what they are.
 */
import type { ServeHandler } from "./edge.ts";

/** Requests being answered by the handler {@linkcode RequestsInFlight.track} wraps. */
export class RequestsInFlight {
  readonly #answering = new Set<Promise<Response>>();

  /**
   * `handler`, with each request counted until its answer is ready. The edge reads what is left
   * of a request body before answering, so by then the body has arrived.
   */
  track(handler: ServeHandler): ServeHandler {
    return (req, info) => {
      const answer = handler(req, info);
      // Answered at once: nothing is left in flight.
      if (answer instanceof Response) return answer;
      this.#answering.add(answer);
      const done = () => this.#answering.delete(answer);
      answer.then(done, done);
      return answer;
    };
  }

  /** How many requests are being answered now. */
  get size(): number {
    return this.#answering.size;
  }

  /**
   * Resolves to true once every request being answered now has its answer (requests that arrive
   * later are not waited for), or to false after `timeoutMs`.
   */
  async settled(timeoutMs: number): Promise<boolean> {
    if (this.#answering.size === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        Promise.allSettled([...this.#answering]).then(() => true),
        new Promise<false>((resolve) => timer = setTimeout(resolve, timeoutMs, false)),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
