/**
 * @module
 * Background re-reading of shared state (signing keys, revocations): one timer that never keeps
 * the process alive and never lets a failed round escape.
 */

/**
 * Runs `work` every `intervalMs` until the returned function is called; a rejected round goes to
 * `onError` and the next round runs as planned.
 */
export function repeatEvery(
  intervalMs: number,
  work: () => Promise<void>,
  onError: (error: unknown) => void = () => {},
): () => void {
  const timer = setInterval(() => work().catch(onError), intervalMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
