/**
 * What some tests need from outside Deno (curl, jq, openssl, Chromium, Python with Debian's
 * libraries, PostgreSQL), whether this machine has it, and {@linkcode testNeeding}: a test that,
 * when something is missing, is skipped with one line naming the Debian package, or fails
 * instead when `REQUIRE_TEST_PROGRAMS=1` (as `.ci/run` sets).
 *
 * @module
 */
import { childEnv } from "./process.ts";

/** The variable that, set to 1, turns every skip for a missing program into a failure. */
export const REQUIRE_VARIABLE = "REQUIRE_TEST_PROGRAMS";

/** Something a test needs from the machine. */
export interface Prerequisite {
  /** The Debian packages that provide what is missing here; empty when nothing is. */
  readonly missing: readonly string[];
  /** Another way to provide it, named on the skip line (such as setting TEST_DATABASE_URL). */
  readonly alternative?: string;
}

/** A Python 3 interpreter that imports some modules. */
export interface Python extends Prerequisite {
  /** The interpreter's path; throws when something is {@linkcode Prerequisite.missing}. */
  readonly path: string;
}

/**
 * A prerequisite provided by the Debian `packages`, present when `isPresent()` says so; checked
 * once, when a test first asks.
 */
export function prerequisite(
  packages: readonly string[],
  isPresent: () => boolean,
  alternative?: string,
): Prerequisite {
  let missing: readonly string[] | undefined;
  return {
    get missing() {
      return missing ??= isPresent() ? [] : packages;
    },
    alternative,
  };
}

/** A program found on PATH. */
export interface Program extends Prerequisite {
  /** Where it is on PATH; throws when it is {@linkcode Prerequisite.missing}. */
  readonly path: string;
}

/** A program found on PATH, from the Debian package `debianPackage`. */
export function program(name: string, debianPackage = name): Program {
  const found = prerequisite([debianPackage], () => onPath(name).length > 0);
  return {
    get missing() {
      return found.missing;
    },
    get path() {
      const [path] = onPath(name);
      if (path === undefined) throw new Error(describeMissing([debianPackage]));
      return path;
    },
  };
}

/** curl, for the tests that drive the server as the README's examples do. */
export const CURL: Prerequisite = program("curl");

/** jq, which the README's five-minute path uses to read values out of JSON answers. */
export const JQ: Prerequisite = program("jq");

/** openssl, for certificates made the way the tutorial makes them. */
export const OPENSSL: Prerequisite = program("openssl");

/** oathtool, the independent TOTP generator the second-factor tests compute codes with. */
export const OATHTOOL: Program = program("oathtool");

/** Chromium, the real browser of the sign-in tests (driven headless by puppeteer-core). */
export const CHROMIUM: Program = program("chromium");

/**
 * The first `python3` on PATH that imports every one of `modules`, each from the Debian package
 * `python3-<module>` (such as python3-jwt for `jwt`): Debian's packages serve Debian's
 * interpreter, not a pyenv or virtualenv one found earlier on PATH.
 */
export function python3With(...modules: string[]): Python {
  let found: { path?: string; missing: readonly string[] } | undefined;
  const find = () => found ??= findPython(modules);
  return {
    get missing() {
      return find().missing;
    },
    get path() {
      const { path, missing } = find();
      if (path === undefined) throw new Error(describeMissing(missing));
      return path;
    },
  };
}

/**
 * Registers a `Deno.test` that needs `needs`. When one is missing the test is ignored, and one
 * line per reason says so (`skipped: needs curl (apt-get install curl)`); with
 * REQUIRE_TEST_PROGRAMS=1 it is registered as a failing test instead.
 *
 * @example
 * ```ts
 * testNeeding([CURL], "curl --cacert trusts the generated certificate", async () => {
 *   await outputOf("curl", ["--cacert", cert, url]);
 * });
 * ```
 */
export function testNeeding(needs: readonly Prerequisite[], definition: Deno.TestDefinition): void;
export function testNeeding(
  needs: readonly Prerequisite[],
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void;
export function testNeeding(
  needs: readonly Prerequisite[],
  nameOrDefinition: string | Deno.TestDefinition,
  fn?: (t: Deno.TestContext) => void | Promise<void>,
): void {
  const definition = typeof nameOrDefinition === "string"
    ? { name: nameOrDefinition, fn: fn! }
    : nameOrDefinition;
  const reason = missingReason(needs);
  if (reason === undefined) {
    Deno.test(definition);
  } else if (programsRequired()) {
    Deno.test({
      ...definition,
      fn() {
        throw new Error(`${reason}, and ${REQUIRE_VARIABLE} is set`);
      },
    });
  } else {
    announce(`skipped: ${reason}`);
    Deno.test({ ...definition, ignore: true });
  }
}

/** Whether REQUIRE_TEST_PROGRAMS asks for failures instead of skips. */
export function programsRequired(): boolean {
  const value = Deno.env.get(REQUIRE_VARIABLE) ?? "";
  return value !== "" && value !== "0";
}

/** "needs … (apt-get install …)" for what `needs` lacks here, or undefined when nothing. */
function missingReason(needs: readonly Prerequisite[]): string | undefined {
  const packages = [...new Set(needs.flatMap((need) => need.missing))];
  if (packages.length === 0) return undefined;
  const alternatives = needs.filter((need) => need.missing.length > 0 && need.alternative)
    .map((need) => `, or ${need.alternative}`);
  return describeMissing(packages, alternatives.join(""));
}

function describeMissing(packages: readonly string[], alternatives = ""): string {
  return `needs ${packages.join(", ")} (apt-get install ${packages.join(" ")}${alternatives})`;
}

const announced = new Set<string>();

/** Prints `line` once per test module. */
function announce(line: string): void {
  if (announced.has(line)) return;
  announced.add(line);
  console.log(line);
}

/** The executable files called `name` in the directories of PATH, in order, without repeats. */
function onPath(name: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const real = Deno.realPathSync(`${dir}/${name}`);
      const { isFile, mode } = Deno.statSync(real);
      if (isFile && (mode === null || (mode & 0o111) !== 0) && !seen.has(real)) {
        seen.add(real);
        found.push(`${dir}/${name}`);
      }
    } catch {
      // Not in this directory.
    }
  }
  return found;
}

/** Prints the modules among argv that do not import, separated by spaces. */
const PYTHON_PROBE = `import importlib, sys
lacking = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        lacking.append(name)
print(" ".join(lacking))`;

function findPython(modules: string[]): { path?: string; missing: readonly string[] } {
  let lacking = modules;
  for (const candidate of onPath("python3")) {
    let output: Deno.CommandOutput;
    try {
      output = new Deno.Command(candidate, {
        args: ["-c", PYTHON_PROBE, ...modules],
        env: childEnv(),
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).outputSync();
    } catch {
      continue;
    }
    if (!output.success) continue;
    const missing = new TextDecoder().decode(output.stdout).split(/\s+/).filter(Boolean);
    if (missing.length === 0) return { path: candidate, missing: [] };
    if (missing.length < lacking.length) lacking = missing;
  }
  return { missing: lacking.map((module) => `python3-${module}`) };
}
