/**
 * @module
 * `user add|passwd|remove|logout|list|factors|mfa-reset|passkey-remove`: accounts in the store,
 * from the command line. Changing a password, removing a user and `logout` end every session of the
 * user in the same store transaction; running servers refuse the sessions' access tokens within
 * their revocation sync.
 */
import { passwordProblem, usernameProblem } from "../auth/accounts/credentials.ts";
import { unixNow } from "../clock.ts";
import type { Passwords } from "../auth/accounts/passwords.ts";
import { type SecurityEvents, UNRECORDED } from "../auth/events.ts";
import { duplicateUser, userNameTaken } from "../store/errors.ts";
import type { AccountChange, AccountStore } from "../store/accounts.ts";
import { actsForItself, type ClientStore } from "../store/clients.ts";
import type { SecondFactorStore } from "../store/second_factors.ts";
import type { PasskeyStore } from "../store/passkeys.ts";
import { type CommandSpec, parseCommandLine } from "../usage.ts";
import { InputError, readPassword } from "../terminal.ts";
import { listFactors, removePasskey, resetSecondFactor } from "./user_second_factor.ts";

/** How `user list` marks a demo user, whose password is public. */
const DEMO_MARK = "(demo user with a public password: serve without --dev refuses to start)";

/** The `user` commands, from which their parser and help are made. */
export const USER_COMMAND: CommandSpec = {
  name: "user",
  summary: "Manage the accounts in the store that DATABASE_URL names",
  details: [
    "A password is asked for twice without echo on a terminal, else read from the first line of stdin; never from the command line. Changing a password, removing a user and logout end every session of the user; running servers refuse its access tokens within their revocation sync.",
  ],
  commands: [
    { name: "user add", args: ["NAME"], summary: "Add a user" },
    {
      name: "user passwd",
      args: ["NAME"],
      summary: "Change a user's password and end their sessions",
    },
    { name: "user remove", args: ["NAME"], summary: "Remove a user and end their sessions" },
    { name: "user logout", args: ["NAME"], summary: "End every session of a user" },
    {
      name: "user factors",
      args: ["NAME"],
      summary: "Show a user's second factor, unused recovery codes and passkeys",
    },
    {
      name: "user mfa-reset",
      args: ["NAME"],
      summary:
        "Remove a user's authenticator app, recovery codes and passkeys and end their sessions",
    },
    {
      name: "user list",
      summary: "List the users, marking the demo users that deno task start made",
    },
    {
      name: "user passkey-remove",
      args: ["NAME", "ID"],
      summary:
        "Remove one of a user's passkeys (its id as user factors shows it) and end their sessions",
    },
  ],
};

/**
 * `user add|passwd|remove|logout|list`: manages accounts and ends their sessions; passwords come
 * from a prompt or stdin. Throws {@linkcode UsageError} for wrong arguments.
 */
export async function userCommand(
  args: string[],
  deps: {
    /** The accounts, and the clients a new user's name must not be the id of. */
    store: AccountStore & SecondFactorStore & PasskeyStore & Pick<ClientStore, "getClient">;
    hasher: Passwords;
    readPassword?: typeof readPassword;
    /** Where account changes are reported. */
    events?: SecurityEvents;
  },
): Promise<void> {
  const { store, hasher, events = UNRECORDED } = deps;
  const ask = deps.readPassword ?? readPassword;
  const invocation = parseCommandLine(USER_COMMAND, args);
  if (invocation.help !== undefined) {
    console.log(invocation.help);
    return;
  }
  const { command, positionals: [name, id] } = invocation;
  if (command.name === "user list") {
    const demo = new Set(await store.listDemoUsers());
    for (const username of await store.listUsers()) {
      console.log(demo.has(username) ? `${username}  ${DEMO_MARK}` : username);
    }
    return;
  }
  const problem = usernameProblem(name);
  if (problem) throw new InputError(problem);
  if (command.name === "user remove") {
    const change = existing(name, await store.removeUser(name, unixNow()));
    events.record({ event: "user_removed", subject: name, sessionsEnded: change.sessionsEnded });
    console.log(`Removed user "${name}" and ended ${sessions(change)}`);
    return;
  }
  if (command.name === "user logout") {
    const change = existing(name, await store.endUserSessions(name, unixNow()));
    events.record({ event: "user_logged_out", subject: name, sessionsEnded: change.sessionsEnded });
    console.log(`Logged out "${name}": ended ${sessions(change)}`);
    return;
  }
  if (command.name === "user factors") return await listFactors(store, name);
  if (command.name === "user mfa-reset") return await resetSecondFactor(store, name, events);
  if (command.name === "user passkey-remove") return await removePasskey(store, name, id, events);
  const adding = command.name === "user add";
  if (adding && await store.getUser(name)) throw duplicateUser(name);
  // Said before the password is asked for; the store checks again when it adds the user.
  if (adding && await store.getClient(name).then((client) => client && actsForItself(client))) {
    throw userNameTaken(name);
  }
  if (!adding && !await store.getUser(name)) {
    throw new InputError(`User "${name}" does not exist`);
  }
  const password = await ask("Password", { confirm: true });
  const weakness = passwordProblem(password);
  if (weakness) throw new InputError(weakness);
  const hash = await hasher.hash(password);
  if (adding) {
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
