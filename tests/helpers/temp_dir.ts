/**
 * Temporary directories for tests, removed with everything in them once the test is done with
 * them, whether it passed or not.
 *
 * @module
 */

/** A new temporary directory; disposing it removes it and its contents. */
export interface TempDir extends AsyncDisposable {
  /** Absolute path of the directory. */
  path: string;
}

/**
 * Makes a temporary directory whose name starts with `prefix`, removed on dispose.
 *
 * @example
 * ```ts
 * await using dir = await tempDir();
 * await Deno.writeTextFile(`${dir.path}/cert.pem`, certPem);
 * ```
 */
export async function tempDir(prefix = "auth-api-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/**
 * Runs `fn` with a new temporary directory and removes the directory afterwards.
 *
 * @example
 * ```ts
 * await withTempDir(async (dir) => {
 *   const listed = await runCli(["user", "list"], { cwd: dir });
 * });
 * ```
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  await using dir = await tempDir();
  return await fn(dir.path);
}
