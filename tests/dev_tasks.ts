/**
 * @module
 * The development tasks that run Deno's own tools, `deno task check`, `test` and `screenshots`:
 * their help, and the deno command lines each runs. `--help` or `-h` prints the task's own usage
 * instead of Deno's; `test` and `screenshots` pass any other argument (a test file, `--filter`) on
 * to `deno test`, and `check`, which takes none, refuses them with its usage line. It tests
 * nothing itself: the exit status is that of the first deno command that fails.
 */
import {
  type CommandSpec,
  helpText,
  parseCommandLine,
  runProgram,
  UsageError,
  usageLine,
} from "../src/usage.ts";

/** What `deno test` is given by both test tasks: every permission the tests use. */
const TEST_FLAGS = [
  "--unstable-net",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

/** The tests that take README's screenshots of the pages. */
const SCREENSHOT_TESTS = ["tests/passkeys_browser_test.ts", "tests/second_factor_browser_test.ts"];

/** One deno command line a task runs, with the variables it adds to the environment. */
interface Step {
  args: string[];
  env?: Record<string, string>;
}

/** A task: its command line as its help shows it, and the steps that run it. */
interface DenoTask {
  spec: CommandSpec;
  /** Whether arguments other than `--help` go on to deno unchecked. */
  passesArguments: boolean;
  steps(args: string[]): Step[];
}

/** `--filter`, which `test` and `screenshots` pass on to `deno test`. */
const FILTER = {
  name: "filter",
  value: "TEXT",
  help: "Run only the tests whose name contains TEXT (/REGEXP/ for a pattern)",
};

/** The tasks of this file by name, as deno.json runs them. */
export const DENO_TASKS: Readonly<Record<string, DenoTask>> = {
  check: {
    spec: {
      name: "check",
      summary:
        "Check formatting (deno fmt --check), lint (deno lint) and types (deno check src tests), as CI does, stopping at the first that fails",
    },
    passesArguments: false,
    steps: () => [
      { args: ["fmt", "--check"] },
      { args: ["lint"] },
      { args: ["check", "src", "tests"] },
    ],
  },
  test: {
    spec: {
      name: "test",
      args: ["[FILE ...]"],
      summary:
        "Run the tests over real HTTPS: every file under tests/, or the FILEs named. They drive the programs README.md lists (PostgreSQL, HAProxy, Chromium, curl, jq, Python, Prometheus, …) and take about 10 minutes on 2 cores.",
      details: [
        "Any other argument goes to deno test as it is (--fail-fast, --parallel, …; deno test --help lists them). Details: tests/README.md.",
      ],
      options: [FILTER],
    },
    passesArguments: true,
    steps: (args) => [{ args: ["test", ...TEST_FLAGS, ...args] }],
  },
  screenshots: {
    spec: {
      name: "screenshots",
      summary:
        `Take README's screenshots of the sign-in, second-factor and account pages again with headless Chromium, by running ${
          SCREENSHOT_TESTS.join(" and ")
        } with README_SCREENSHOTS=update`,
      details: ["Any other argument goes to deno test as it is."],
      options: [FILTER],
    },
    passesArguments: true,
    steps: (args) => [{
      args: ["test", ...TEST_FLAGS, ...SCREENSHOT_TESTS, ...args],
      env: { README_SCREENSHOTS: "update" },
    }],
  },
};

/** Whether `--help` or `-h` comes before any `--`. */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

async function main([name, ...args]: string[]): Promise<number> {
  const task = DENO_TASKS[name];
  if (!task) {
    const names = Object.keys(DENO_TASKS).join(", ");
    throw new UsageError(
      `Unknown task "${name ?? ""}": use one of ${names}`,
      usageLine({
        name: "TASK",
        summary: "",
      }),
    );
  }
  if (asksForHelp(args)) {
    console.log(helpText(task.spec));
    return 0;
  }
  if (!task.passesArguments) parseCommandLine(task.spec, args);
  for (const step of task.steps(args)) {
    const code = await run(step);
    if (code !== 0) return code;
  }
  return 0;
}

/**
 * Runs one deno command line with this process's output, and its exit status. SIGINT and
 * SIGTERM are passed on, so that the command can stop its servers and browsers before this ends.
 */
async function run({ args, env }: Step): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const forward = signals.map((signal) =>
    [signal, () => {
      try {
        child.kill(signal);
      } catch {
        // It has exited already.
      }
    }] as const
  );
  for (const [signal, handler] of forward) Deno.addSignalListener(signal, handler);
  try {
    return (await child.status).code;
  } finally {
    for (const [signal, handler] of forward) Deno.removeSignalListener(signal, handler);
  }
}

if (import.meta.main) await runProgram(() => main(Deno.args));
