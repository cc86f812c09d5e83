/**
 * @module
 * `user add|passwd|remove|logout|list`: accounts in the store, from the command line. Changing a
 * password, removing a user and `logout` end every session of the user in the same store
 * transaction; running servers refuse the sessions' access tokens within their revocation sync.
 */
import { passwordProblem, usernameProblem } from "../auth/accounts/credentials.ts";
import { unixNow } from "../clock.ts";
import type { PasswordHasher } from "../auth/accounts/passwords.ts";
import { type SecurityEvents, UNRECORDED } from "../auth/events.ts";
import { duplicateUser } from "../store/errors.ts";
import type { AccountChange, Store } from "../store/store.ts";
import { InputError, readPassword } from "./secret.ts";

const USAGE =
  "Usage: user add NAME | user passwd NAME | user remove NAME | user logout NAME | user list";

/**
 * `user add|passwd|remove|logout|list`: manages accounts and ends their sessions; passwords come
 * from a prompt or stdin.
 */
export async function userCommand(
  args: string[],
  deps: {
    store: Store;
    hasher: PasswordHasher;
    readPassword?: typeof readPassword;
    /** Where account changes are reported. */
    events?: SecurityEvents;
  },
): Promise<void> {
  const { store, hasher, events = UNRECORDED } = deps;
  const ask = deps.readPassword ?? readPassword;
  const [action, name, ...rest] = args;
  if (rest.length > 0) throw new InputError(`Unexpected argument "${rest[0]}"; ${USAGE}`);
  if (action === "list") {
    if (name !== undefined) throw new InputError(`Unexpected argument "${name}"; ${USAGE}`);
    for (const username of await store.listUsers()) console.log(username);
    return;
  }
  if (!["add", "passwd", "remove", "logout"].includes(action) || name === undefined) {
    throw new InputError(USAGE);
  }
  const problem = usernameProblem(name);
  if (problem) throw new InputError(problem);
  if (action === "remove") {
    const change = existing(name, await store.removeUser(name, unixNow()));
    events.record({ event: "user_removed", subject: name, sessionsEnded: change.sessionsEnded });
    console.log(`Removed user "${name}" and ended ${sessions(change)}`);
    return;
  }
  if (action === "logout") {
    const change = existing(name, await store.endUserSessions(name, unixNow()));
    events.record({ event: "user_logged_out", subject: name, sessionsEnded: change.sessionsEnded });
    console.log(`Logged out "${name}": ended ${sessions(change)}`);
    return;
  }
  if (action === "add" && await store.getUser(name)) throw duplicateUser(name);
  if (action === "passwd" && !await store.getUser(name)) {
    throw new InputError(`User "${name}" does not exist`);
  }
  const password = await ask("Password", { confirm: true });
  const weakness = passwordProblem(password);
  if (weakness) throw new InputError(weakness);
  const hash = await hasher.hash(password);
  if (action === "add") {
    await store.addUser(name, hash);
    events.record({ event: "user_added", subject: name });
    console.log(`Added user "${name}"`);
  } else {
    const change = existing(name, await store.changePassword(name, hash, unixNow()));
    events.record({
      event: "password_changed",
      subject: name,
      sessionsEnded: change.sessionsEnded,
    });
    console.log(`Changed the password of "${name}" and ended ${sessions(change)}`);
  }
}

function existing(name: string, change: AccountChange): AccountChange {
  if (!change.found) throw new InputError(`User "${name}" does not exist`);
  return change;
}

function sessions({ sessionsEnded }: AccountChange): string {
  return `${sessionsEnded} session${sessionsEnded === 1 ? "" : "s"}`;
}
