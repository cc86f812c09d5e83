/**
 * @module
 * File modes of the embedded store, which holds the signing keys and password hashes: its
 * directory is made 0700 and its files 0600, before SQLite opens them. SQLite creates the `-wal`
 * and `-shm` files later, with the main file's mode, so they are private too. It never loosens a
 * mode, and it leaves an existing directory as it is (reporting it instead).
 */
import { dirname } from "node:path";

/** Mode of the store's directory when this service creates it. */
export const DIRECTORY_MODE = 0o700;
/** Mode of the store's files. */
export const FILE_MODE = 0o600;
/** Files SQLite keeps beside the database in WAL mode. */
const COMPANIONS = ["", "-wal", "-shm"];

/**
 * Creates the database's directory (0700) and an empty database file (0600) when missing,
 * tightens existing files to 0600, and returns what was open to other users, as `"path" 0755`.
 * With `readOnly` it only reports, changing nothing.
 */
export async function secureDatabaseFiles(
  path: string,
  { readOnly = false }: { readOnly?: boolean } = {},
): Promise<string[]> {
  const loose: string[] = [];
  const dir = dirname(path);
  const dirMode = await modeOf(dir);
  if (dirMode === undefined) {
    if (!readOnly) await Deno.mkdir(dir, { recursive: true, mode: DIRECTORY_MODE });
  } else if (dirMode & 0o077) {
    loose.push(`"${dir}" ${octal(dirMode)}`);
  }
  // Created empty before SQLite sees it, so that SQLite never creates it with the umask's mode.
  if (!readOnly) {
    await (await Deno.open(path, { create: true, write: true, mode: FILE_MODE })).close();
  }
  for (const suffix of COMPANIONS) {
    const file = path + suffix;
    const mode = await modeOf(file);
    if (mode !== undefined && mode & 0o077) {
      loose.push(`"${file}" ${octal(mode)}`);
      if (!readOnly) await Deno.chmod(file, FILE_MODE);
    }
  }
  return loose;
}

/** The permission bits of `path`, or undefined when it does not exist. */
async function modeOf(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).mode! & 0o777;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}
