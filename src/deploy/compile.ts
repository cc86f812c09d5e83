/**
 * @module
 * `deno task compile`: builds bin/auth-api, one executable of src/main.ts with the serve tasks'
 * permissions and V8 flag, by running `deno compile`, which reads DENORT_BIN itself. It answers
 * `--help`, refuses arguments with its usage line before building anything, and removes a bin/
 * that a failed build left empty. It only builds: what the binary does is src/main.ts's.
 */
import { type CommandSpec, helpText, parseCommandLine, runProgram } from "../usage.ts";

/** Where the executable is written, relative to the project. */
const OUTPUT_DIR = "bin";

/** The compile task's command line, from which its parser and its help are made. */
export const COMPILE_COMMAND: CommandSpec = {
  name: "compile",
  summary:
    `Build ${OUTPUT_DIR}/auth-api, one executable of src/main.ts that takes the same commands, with the serve tasks' permissions (certs/ and data/ where it runs, the service's variables, the network)`,
  details: [
    "DENORT_BIN names the Deno runtime to join it to, when deno compile cannot download one. A failed build leaves no empty bin/ behind. How big the binary is and how to run it: src/deploy/README.md (One binary).",
  ],
};

/** What `deno compile` is given: the permissions and V8 flag of the serve tasks, then the entry point. */
export const COMPILE_ARGS: readonly string[] = [
  "compile",
  "--exclude-unused-npm",
  "-P=service",
  "--allow-read=certs,data",
  "--allow-write=certs,data",
  "--v8-flags=--max-semi-space-size=2",
  "--unstable-net",
  "--output",
  `${OUTPUT_DIR}/auth-api`,
  "src/main.ts",
];

async function main(args: string[]): Promise<number> {
  const invocation = parseCommandLine(COMPILE_COMMAND, args);
  if (invocation.help !== undefined) {
    console.log(helpText(COMPILE_COMMAND));
    return 0;
  }
  // stdout and stderr are inherited: deno compile's own lines are the build's report.
  const build = new Deno.Command(Deno.execPath(), {
    args: [...COMPILE_ARGS],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  });
  const { code } = await build.spawn().status;
  if (code !== 0) {
    await removeIfEmpty(OUTPUT_DIR);
    return 1;
  }
  return 0;
}

/** Removes `dir` when it is an empty directory; one holding an earlier build is kept. */
async function removeIfEmpty(dir: string): Promise<void> {
  try {
    if ((await Deno.stat(dir)).isDirectory) await Deno.remove(dir);
  } catch {
    // Not there, or not empty: nothing of ours to clean up.
  }
}

if (import.meta.main) await runProgram(() => main(Deno.args));
