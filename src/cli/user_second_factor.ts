/**
 * @module
 * `user factors NAME`, `user mfa-reset NAME` and `user passkey-remove NAME ID`: an
 * administrator's view of a user's second factors and passkeys, and their removal for a person
 * who lost them. A removal ends every session of the user, as `user passwd` does. It never prints
 * a secret or a code.
 */
import { isoTime, unixNow } from "../clock.ts";
import type { SecurityEvents } from "../auth/events.ts";
import type { AccountStore } from "../store/accounts.ts";
import type { SecondFactorStore } from "../store/second_factors.ts";
import type { PasskeyStore } from "../store/passkeys.ts";
import { InputError } from "../terminal.ts";

/** What the second-factor commands work on. */
type FactorStore = AccountStore & SecondFactorStore & PasskeyStore;

/**
 * Prints the user's second factors: the authenticator app, the unused recovery codes and the
 * passkeys (id, name, when added and last used).
 */
export async function listFactors(store: FactorStore, name: string): Promise<void> {
  const user = await store.getUser(name);
  if (!user) throw new InputError(`User "${name}" does not exist`);
  const factor = await store.getTotpFactor(name);
  const passkeys = await store.listPasskeys(user.subject);
  if (!factor && passkeys.length === 0) {
    console.log(`"${name}" has no second factor`);
  } else if (!factor) {
    console.log("authenticator app  none");
  } else if (factor.confirmedAt === null) {
    console.log(`authenticator app  being set up since ${isoTime(factor.createdAt)}`);
  } else {
    console.log(`authenticator app  set up ${isoTime(factor.confirmedAt)}`);
  }
  console.log(`recovery codes     ${await store.countRecoveryCodes(name)} unused`);
  for (const passkey of passkeys) {
    const used = passkey.lastUsedAt === null ? "never used" : `used ${isoTime(passkey.lastUsedAt)}`;
    const kind = passkey.backupEligible ? "synced" : "device-bound";
    console.log(
      `passkey            ${passkey.id}  ${JSON.stringify(passkey.name)}  ${kind}, added ${
        isoTime(passkey.createdAt)
      }, ${used}`,
    );
  }
}

/** Removes one passkey of the user (by its id, as `user factors` shows it) and ends their sessions. */
export async function removePasskey(
  store: FactorStore,
  name: string,
  id: string,
  events: SecurityEvents,
): Promise<void> {
  const user = await store.getUser(name);
  if (!user) throw new InputError(`User "${name}" does not exist`);
  if (!await store.removePasskey(user.subject, id)) {
    throw new InputError(
      `User "${name}" has no passkey "${id}" (see: deno task user factors ${name})`,
    );
  }
  const { sessionsEnded } = await store.endUserSessions(name, unixNow());
  events.record({ event: "passkey_removed", subject: name, sessionsEnded });
  console.log(
    `Removed the passkey "${id}" of "${name}" and ended ${sessionsEnded} session${
      sessionsEnded === 1 ? "" : "s"
    }`,
  );
}

/**
 * Removes the user's second factor, recovery codes and passkeys and ends every session of the
 * user.
 */
export async function resetSecondFactor(
  store: FactorStore,
  name: string,
  events: SecurityEvents,
): Promise<void> {
  const user = await store.getUser(name);
  if (!user) throw new InputError(`User "${name}" does not exist`);
  const passkeys = await store.removePasskeys(user.subject);
  const removed = await store.removeSecondFactors(name) || passkeys > 0;
  const change = await store.endUserSessions(name, unixNow());
  const { sessionsEnded } = change;
  events.record({ event: "second_factor_reset", subject: name, sessionsEnded });
  const what = removed ? "Removed the second factor of" : "No second factor to remove for";
  console.log(
    `${what} "${name}" and ended ${sessionsEnded} session${sessionsEnded === 1 ? "" : "s"}`,
  );
}
