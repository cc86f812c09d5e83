/**
 * @module
 * `user factors NAME` and `user mfa-reset NAME`: an administrator's view of a user's second
 * factor, and its removal for a person who lost both the app and the recovery codes. A reset
 * ends every session of the user, as `user passwd` does. It never prints a secret or a code.
 */
import { isoTime, unixNow } from "../clock.ts";
import type { SecurityEvents } from "../auth/events.ts";
import type { AccountStore } from "../store/accounts.ts";
import type { SecondFactorStore } from "../store/second_factors.ts";
import { InputError } from "../terminal.ts";

/** Prints the user's second factors: the authenticator app and the unused recovery codes. */
export async function listFactors(
  store: AccountStore & SecondFactorStore,
  name: string,
): Promise<void> {
  if (!await store.getUser(name)) throw new InputError(`User "${name}" does not exist`);
  const factor = await store.getTotpFactor(name);
  if (!factor) {
    console.log(`"${name}" has no second factor`);
  } else if (factor.confirmedAt === null) {
    console.log(`authenticator app  being set up since ${isoTime(factor.createdAt)}`);
  } else {
    console.log(`authenticator app  set up ${isoTime(factor.confirmedAt)}`);
  }
  console.log(`recovery codes     ${await store.countRecoveryCodes(name)} unused`);
}

/** Removes the user's second factor and recovery codes and ends every session of the user. */
export async function resetSecondFactor(
  store: AccountStore & SecondFactorStore,
  name: string,
  events: SecurityEvents,
): Promise<void> {
  if (!await store.getUser(name)) throw new InputError(`User "${name}" does not exist`);
  const removed = await store.removeSecondFactors(name);
  const change = await store.endUserSessions(name, unixNow());
  const { sessionsEnded } = change;
  events.record({ event: "second_factor_reset", subject: name, sessionsEnded });
  const what = removed ? "Removed the second factor of" : "No second factor to remove for";
  console.log(
    `${what} "${name}" and ended ${sessionsEnded} session${sessionsEnded === 1 ? "" : "s"}`,
  );
}
