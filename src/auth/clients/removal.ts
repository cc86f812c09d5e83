/**
 * @module
 * Removing a registered client (`clients remove`): one store transaction ends everything the
 * client was given (its refresh families, authorization codes and consents) and records a
 * `client` revocation that every instance reads, refusing the client's access tokens issued up
 * to the second after the removal (a client credentials grant already under way as it
 * committed). The removal returns only once that second is over, so a registration of the same
 * id made afterwards never shares a second with the removed one's tokens. It prints nothing.
 */
import { unixNow } from "../../clock.ts";
import type { ClientStore } from "../../store/store.ts";

/** Seconds after a removal whose access tokens of the client are still refused. */
export const REMOVAL_MARGIN_SECONDS = 1;

/**
 * Removes the registered client `clientId` and ends what it was given; false when there is no
 * such client. `tokenAcceptanceSeconds` is the longest any instance accepts an access token.
 *
 * @example
 * ```ts
 * await removeClient(store, "web", { tokenAcceptanceSeconds: 86_700 }); // true
 * ```
 */
export async function removeClient(
  store: Pick<ClientStore, "removeClient">,
  clientId: string,
  { tokenAcceptanceSeconds }: { tokenAcceptanceSeconds: number },
): Promise<boolean> {
  const now = unixNow();
  const tokensIssuedUntil = now + REMOVAL_MARGIN_SECONDS;
  const removed = await store.removeClient(clientId, {
    now,
    tokensIssuedUntil,
    tokensAcceptedUntil: tokensIssuedUntil + tokenAcceptanceSeconds,
  });
  if (removed) await untilPast(tokensIssuedUntil);
  return removed;
}

/** Resolves once the second `at` is over. */
function untilPast(at: number): Promise<void> {
  const waitMs = (at + 1) * 1000 - Date.now();
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, waitMs)));
}
