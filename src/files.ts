/**
 * @module
 * Questions to the file system asked the same way everywhere: whether a path exists. It sits
 * below everything, imports nothing of ours and changes no file.
 */

/**
 * Whether `path` names a file or folder (links followed); a failure other than "not found", a
 * missing permission for one, is thrown.
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
