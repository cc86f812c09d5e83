/**
 * @module
 * `--help` and wrong arguments on every command and subcommand, run as the tasks run them. The
 * list of commands and options comes from the same definitions the parsers are made from, so a
 * new option or subcommand is checked here without editing this file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CERTS_COMMAND } from "../src/cli/certs.ts";
import { CLIENTS_COMMAND } from "../src/cli/clients.ts";
import { KEYS_COMMAND } from "../src/cli/keys.ts";
import { USER_COMMAND } from "../src/cli/user.ts";
import { CLIENT_COMMAND } from "../src/client.ts";
import { COMPILE_COMMAND } from "../src/deploy/compile.ts";
import { ENV_VARIABLES } from "../src/config_environment.ts";
import { SERVE_COMMAND, START_COMMAND } from "../src/serve_command.ts";
import { type CommandSpec, optionsOf, parseCommandLine, usageLine } from "../src/usage.ts";
import { assertUsageError, CLIENT, type CliResult, runCli, runProgram } from "./helpers/process.ts";
import { BENCH_COMMAND } from "./bench/options.ts";
import { DENO_TASKS } from "./dev_tasks.ts";
import { tempDir, withTempDir } from "./helpers/temp_dir.ts";

/** The commands of src/main.ts. */
const MAIN_COMMANDS = [SERVE_COMMAND, CERTS_COMMAND, USER_COMMAND, KEYS_COMMAND, CLIENTS_COMMAND];

/** How many children run at once: the machine is shared. */
const PARALLEL = 4;

/** A command and every subcommand under it. */
function commandTree(spec: CommandSpec): CommandSpec[] {
  return [spec, ...(spec.commands ?? []).flatMap(commandTree)];
}

/** One run of a command line whose output is checked against `spec`. */
interface Case {
  spec: CommandSpec;
  args: string[];
  script?: string;
}

/** Every command line to ask for help with: each (sub)command, and the words `start` adds. */
function helpCases(): Case[] {
  const cases: Case[] = MAIN_COMMANDS.flatMap(commandTree).map((spec) => ({
    spec,
    args: [...spec.name.split(" "), "--help"],
  }));
  cases.push(
    { spec: SERVE_COMMAND, args: ["serve", "--check", "--help"] },
    { spec: START_COMMAND, args: ["serve", "--dev", "-h"] }, // deno task start -h
    { spec: START_COMMAND, args: ["serve", "--port", "0", "--dev", "--help"] },
    { spec: USER_COMMAND, args: ["user", "-h"] },
    { spec: CLIENTS_COMMAND.commands![0], args: ["clients", "add", "--bogus", "-h"] },
    { spec: CLIENT_COMMAND, args: ["--help"], script: CLIENT },
    { spec: CLIENT_COMMAND, args: ["-h"], script: CLIENT },
  );
  return cases;
}

/** Runs `cases` in `dir`, a few at a time, in order. */
async function runAll(dir: string, cases: Case[]): Promise<CliResult[]> {
  const results: CliResult[] = [];
  for (let i = 0; i < cases.length; i += PARALLEL) {
    results.push(
      ...await Promise.all(
        cases.slice(i, i + PARALLEL).map(({ args, script }) => runCli(args, { cwd: dir, script })),
      ),
    );
  }
  return results;
}

Deno.test("--help and -h on every command and subcommand print its usage and every option it accepts, and exit 0", async () => {
  await withTempDir(async (dir) => {
    const cases = helpCases();
    const results = await runAll(dir, cases);
    for (const [i, { spec, args }] of cases.entries()) {
      const { code, stdout, stderr } = results[i];
      const what = args.join(" ");
      assert.equal(code, 0, `${what}: ${stderr}`);
      assert.equal(stderr, "", what);
      assert.ok(stdout.startsWith(`Usage: ${usageLine(spec)}\n`), `${what}:\n${stdout}`);
      for (const option of optionsOf(spec)) {
        const label = `--${option.name}${option.value ? ` ${option.value}` : ""}`;
        assert.ok(stdout.includes(label), `${what} shows ${label}:\n${stdout}`);
        if (option.short) assert.ok(stdout.includes(`-${option.short}, --`), what);
      }
      for (const sub of spec.commands ?? []) {
        const synopsis = [sub.name.split(" ").at(-1), ...sub.args ?? []].join(" ");
        assert.match(stdout, new RegExp(`^  ${RegExp.escape(synopsis)} `, "m"), what);
      }
    }
    // Nothing was opened or written on the way: help comes before the store.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("the main help lists every command, and a group's help says its subcommands' words", async () => {
  await withTempDir(async (dir) => {
    const [main, help] = await Promise.all([
      runCli(["--help"], { cwd: dir }),
      runCli(["help"], { cwd: dir }),
    ]);
    assert.equal(main.code, 0, main.stderr);
    assert.equal(help.stdout, main.stdout);
    for (const spec of MAIN_COMMANDS) {
      assert.match(
        main.stdout,
        new RegExp(`^  ${spec.name} +${RegExp.escape(spec.summary.split(" ")[0])}`, "m"),
      );
    }
    assert.match(main.stdout, /deno task client --help/);
    const keys = await runCli(["keys", "--help"], { cwd: dir });
    for (const alg of ["ES256", "EdDSA", "RS256"]) assert.match(keys.stdout, new RegExp(alg));
  });
});

Deno.test("wrong arguments to every command print an error line and its usage line, and exit 2", async () => {
  await withTempDir(async (dir) => {
    const leaves = [...MAIN_COMMANDS.flatMap(commandTree), CLIENT_COMMAND]
      .filter((spec) => !spec.commands);
    const cases: Case[] = leaves.map((spec) => ({
      spec,
      args: spec === CLIENT_COMMAND ? ["--no-such-option"] : [
        ...spec.name.split(" "),
        ...(spec.args ?? []).map(() => "x"),
        "--no-such-option",
      ],
      script: spec === CLIENT_COMMAND ? CLIENT : undefined,
    }));
    const results = await runAll(dir, cases);
    for (const [i, { spec, args }] of cases.entries()) {
      const usage = assertUsageError(results[i], /^Error: Unknown option "--no-such-option"$/);
      assert.equal(usage, `Usage: ${usageLine(spec)} (--help for more)`, args.join(" "));
    }
    const groups = MAIN_COMMANDS.filter((spec) => spec.commands);
    const missing = await runAll(dir, groups.map((spec) => ({ spec, args: [spec.name] })));
    for (const [i, spec] of groups.entries()) {
      const usage = assertUsageError(missing[i], /^Error: Missing command: one of /);
      assert.equal(usage, `Usage: ${usageLine(spec)} (--help for more)`);
    }
    assertUsageError(
      await runCli(["user", "add", "a", "b"], { cwd: dir }),
      /Unexpected argument "b"/,
    );
    assertUsageError(await runCli(["serve", "--port"], { cwd: dir }), /--port/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no store was opened");
  });
});

Deno.test("an argument that begins with one dash, as one key id in 32 does, is read as the argument and not as options", () => {
  const kid = "-Lq3cXb0Z1mUoZ8b9e7f5r2Jk4w6yTnHs0aPdQvBcE";
  const revoke = parseCommandLine(KEYS_COMMAND, ["revoke", kid]);
  assert.deepEqual(revoke.help === undefined && revoke.positionals, [kid]);
  const named = parseCommandLine(CLIENTS_COMMAND, ["add", "app", "--name", "-dashed name-"]);
  assert.equal(named.help === undefined && named.values.name, "-dashed name-");
  assert.throws(
    () => parseCommandLine(KEYS_COMMAND, ["revoke", "--no-such-option"]),
    /Unknown option "--no-such-option"/,
  );
  const help = parseCommandLine(KEYS_COMMAND, ["revoke", "-h"]);
  assert.match(help.help ?? "", /keys revoke/);
});

Deno.test("the main help and serve's help name the file whose configuration table lists every variable", async () => {
  await withTempDir(async (dir) => {
    const root = new URL("..", import.meta.url);
    const helps = await Promise.all([runCli(["--help"], { cwd: dir }), runCli(["serve", "-h"])]);
    for (const { code, stdout } of helps) {
      assert.equal(code, 0, stdout);
      const named = [
        ...new Set(
          [...stdout.replaceAll("\n", " ").matchAll(/[\w/]*README\.md/g)].map((m) => m[0]),
        ),
      ];
      assert.deepEqual(named, ["src/README.md"], stdout);
      const readme = await Deno.readTextFile(new URL(named[0], root));
      const table = readme.slice(readme.indexOf("\n## Configuration\n"));
      assert.ok(table.length < readme.length, `${named[0]} has a Configuration section`);
      for (const variable of ENV_VARIABLES) {
        assert.ok(table.includes(`\`${variable}\``), `${named[0]} describes ${variable}`);
      }
    }
  });
});

/** The files a task needs to run: linked from the project into a directory of its own. */
const PROJECT_FILES = ["deno.json", "deno.lock", "src", "tests"];

/**
 * Runs `fn` in a temporary directory holding links to the project's files, where
 * `deno task` runs the project's tasks and anything they write stays in that directory.
 */
async function withProjectLinks(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  await withTempDir(async (dir) => {
    for (const name of PROJECT_FILES) await Deno.symlink(join(root, name), join(dir, name));
    await fn(dir);
    const left = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(left, [...PROJECT_FILES].sort(), "nothing was written");
  });
}

/** Runs `deno task NAME ARGS` in `dir`, without Deno's line naming the task. */
function runTask(dir: string, name: string, args: string[]): Promise<CliResult> {
  return runProgram(Deno.execPath(), ["task", "-q", name, ...args], { cwd: dir });
}

Deno.test("deno task compile --help and -h print its usage and exit 0 without building, and wrong arguments print its usage line and exit 2", async () => {
  await withProjectLinks(async (dir) => {
    for (const flag of ["--help", "-h"]) {
      const { code, stdout, stderr } = await runTask(dir, "compile", [flag]);
      assert.equal(code, 0, stderr);
      assert.equal(stderr, "");
      assert.ok(stdout.startsWith(`Usage: ${usageLine(COMPILE_COMMAND)}\n`), stdout);
      assert.match(stdout, /DENORT_BIN/);
    }
    const usage = `Usage: ${usageLine(COMPILE_COMMAND)} (--help for more)`;
    const bogus = await runTask(dir, "compile", ["--bogus"]);
    assert.equal(assertUsageError(bogus, /^Error: Unknown option "--bogus"$/), usage);
    const extra = await runTask(dir, "compile", ["out"]);
    assert.equal(assertUsageError(extra, /^Error: Unexpected argument "out"$/), usage);
  });
});

Deno.test("deno task bench --help prints its usage and every option, and wrong arguments print its usage line and exit 2, before any benchmark runs", async () => {
  await withProjectLinks(async (dir) => {
    for (const flag of ["--help", "-h"]) {
      const { code, stdout, stderr } = await runTask(dir, "bench", [flag]);
      assert.equal(code, 0, stderr);
      assert.equal(stderr, "");
      assert.ok(stdout.startsWith(`Usage: ${usageLine(BENCH_COMMAND)}\n`), stdout);
      for (const option of optionsOf(BENCH_COMMAND)) {
        assert.ok(stdout.includes(`--${option.name}${option.value ? ` ${option.value}` : ""}`));
      }
    }
    const usage = `Usage: ${usageLine(BENCH_COMMAND)} (--help for more)`;
    const wrong: [string[], RegExp][] = [
      [["--bogus"], /^Error: Unknown option "--bogus"$/],
      [["--quick", "extra"], /^Error: Unexpected argument "extra"$/],
      [["--rounds", "0"], /^Error: --rounds must be a whole number from 1 to 50, not "0"$/],
      [["--log-level", "loud"], /^Error: --log-level must be one of debug, info, warn, error/],
    ];
    const results = await Promise.all(wrong.map(([args]) => runTask(dir, "bench", args)));
    for (const [i, [args, message]] of wrong.entries()) {
      assert.equal(assertUsageError(results[i], message), usage, args.join(" "));
    }
  });
});

/** Every task deno.json defines, by name. */
const TASK_NAMES = Object.keys(
  JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url))).tasks,
);

Deno.test("every task in deno.json answers --help and -h with a usage of its own and exits 0, without running", async () => {
  await withProjectLinks(async (dir) => {
    const cases = TASK_NAMES.flatMap((name) => [[name, "--help"], [name, "-h"]]);
    const results: CliResult[] = [];
    for (let i = 0; i < cases.length; i += PARALLEL) {
      const batch = cases.slice(i, i + PARALLEL);
      results.push(...await Promise.all(batch.map(([name, flag]) => runTask(dir, name, [flag]))));
    }
    for (const [i, [name, flag]] of cases.entries()) {
      const { code, stdout, stderr } = results[i];
      const what = `deno task ${name} ${flag}`;
      assert.equal(code, 0, `${what}: ${stderr}`);
      assert.equal(stderr, "", what);
      assert.match(stdout, /^Usage: deno task \S/, `${what}:\n${stdout}`);
      // Ours, not Deno's help of the tool the task runs (some 14 KB for deno test).
      assert.ok(stdout.includes(`deno task ${name}`), `${what} names the task:\n${stdout}`);
      assert.ok(stdout.length < 4000, `${what}: ${stdout.length} characters`);
    }
  });
});

Deno.test("the tasks that run deno's tools print their own help, pass a test file and --filter on to deno test, and check refuses arguments", async () => {
  for (const [name, task] of Object.entries(DENO_TASKS)) {
    assert.ok(TASK_NAMES.includes(name), `deno.json runs ${name}`);
    const help = parseCommandLine(task.spec, ["--help"]);
    assert.match(help.help ?? "", new RegExp(`^Usage: deno task ${name}\\b`));
  }
  await withProjectLinks(async (dir) => {
    await using probes = await tempDir("auth-api-probe-");
    const probe = join(probes.path, "probe_test.ts");
    await Deno.writeTextFile(
      probe,
      'Deno.test("first probe", () => {});\nDeno.test("second probe", () => {});\n',
    );
    const ran = await runTask(dir, "test", [probe, "--filter", "second"]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /second probe \.\.\. ok/);
    assert.doesNotMatch(ran.stdout, /first probe/);
    assert.match(ran.stdout, /1 passed .* 1 filtered out/);

    const usage = `Usage: ${usageLine(DENO_TASKS.check.spec)} (--help for more)`;
    const extra = await runTask(dir, "check", ["src"]);
    assert.equal(assertUsageError(extra, /^Error: Unexpected argument "src"$/), usage);
  });
});
