/**
 * @module
 * `user add|passwd|remove|list`: accounts in the store, from the command line.
 */
import { passwordProblem, usernameProblem } from "../auth/credentials.ts";
import type { PasswordHasher } from "../auth/passwords.ts";
import { duplicateUser } from "../store/errors.ts";
import type { Store } from "../store/store.ts";
import { InputError, readPassword } from "./secret.ts";

const USAGE = "Usage: user add NAME | user passwd NAME | user remove NAME | user list";

/** `user add|passwd|remove|list`: manages accounts; passwords come from a prompt or stdin. */
export async function userCommand(
  args: string[],
  deps: { store: Store; hasher: PasswordHasher; readPassword?: typeof readPassword },
): Promise<void> {
  const { store, hasher } = deps;
  const ask = deps.readPassword ?? readPassword;
  const [action, name, ...rest] = args;
  if (rest.length > 0) throw new InputError(`Unexpected argument "${rest[0]}"; ${USAGE}`);
  if (action === "list") {
    if (name !== undefined) throw new InputError(`Unexpected argument "${name}"; ${USAGE}`);
    for (const username of await store.listUsers()) console.log(username);
    return;
  }
  if (!["add", "passwd", "remove"].includes(action) || name === undefined) {
    throw new InputError(USAGE);
  }
  const problem = usernameProblem(name);
  if (problem) throw new InputError(problem);
  if (action === "remove") {
    if (!await store.removeUser(name)) throw new InputError(`User "${name}" does not exist`);
    console.log(`Removed user "${name}"`);
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
    console.log(`Added user "${name}"`);
  } else {
    await store.setPasswordHash(name, hash);
    console.log(`Changed the password of "${name}"`);
  }
}
