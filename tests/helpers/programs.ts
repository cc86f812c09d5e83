/**
 * Outside programs some tests need (Chromium, Python with a package): a test checks for its
 * program first and, when it is missing, skips with one line naming the Debian package. With
 * REQUIRE_TEST_PROGRAMS set (as `.ci/run` sets it) a missing program fails the run instead.
 */

/**
 * Runs `command` (a program and its arguments) once; undefined when it succeeds, else the one-line
 * reason to skip, naming the Debian package that provides it.
 *
 * @example
 * ```ts
 * const PYJWT_MISSING = missingProgram("python3-jwt", ["/usr/bin/python3", "-c", "import jwt"]);
 * Deno.test({ name: "…", ignore: PYJWT_MISSING !== undefined, fn() {} });
 * ```
 */
export function missingProgram(debianPackage: string, command: string[]): string | undefined {
  const [program, ...args] = command;
  let works = false;
  try {
    works = new Deno.Command(program, { args, stdin: "null", stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    // Not installed at all.
  }
  if (works) return undefined;
  const reason = `"${command.join(" ")}" fails: install Debian's ${debianPackage}`;
  if (Deno.env.get("REQUIRE_TEST_PROGRAMS")) {
    throw new Error(`${reason} (REQUIRE_TEST_PROGRAMS is set)`);
  }
  console.warn(`Skipping the tests that need ${debianPackage}: ${reason}`);
  return reason;
}
