/**
 * @module
 * Command lines described once: each command's words, arguments and options, from which both its
 * parser and its help are made, so that the help cannot leave out what the parser accepts. It
 * parses and renders text, and ends a program with the exit status its errors call for
 * ({@linkcode runProgram}, the only place that prints); it reads no environment.
 */
import { parseArgs } from "node:util";

/** How the commands are run, as their usage lines show it. */
export const PROGRAM = "deno task";
/** Exit status for wrong arguments, as most command-line programs use it. */
export const USAGE_EXIT_CODE = 2;
/** Width the help's descriptions are wrapped to. */
const WIDTH = 100;

/** One option of a command. */
export interface OptionSpec {
  /** Long name, without the dashes. */
  name: string;
  /** One-letter alias. */
  short?: string;
  /** Placeholder of its value in the help (`N`, `URI`); a flag without a value when absent. */
  value?: string;
  /** Whether it may be given more than once. */
  multiple?: boolean;
  /** What it does, one sentence. */
  help: string;
}

/** A command, or a group of subcommands, as its usage line and help show it. */
export interface CommandSpec {
  /** The words that run it: `serve`, `user add`. */
  name: string;
  /** Placeholders of its positional arguments, each required. */
  args?: readonly string[];
  /** What it does, one line. */
  summary: string;
  /** Paragraphs of help under the summary. */
  details?: readonly string[];
  options?: readonly OptionSpec[];
  /** Subcommands, when this is a group. */
  commands?: readonly CommandSpec[];
}

/** Wrong arguments: one line saying what is wrong, shown with the command's usage line. */
export class UsageError extends Error {
  /** The usage line of the command the arguments were for, without "Usage: ". */
  readonly usage: string;

  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** Values of a command's options by long name: text, a flag, or the texts of a repeatable one. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command line asks for: a help text to print, or a command with its arguments. */
export type Invocation =
  | { help: string }
  | {
    help?: undefined;
    command: CommandSpec;
    values: OptionValues;
    positionals: string[];
  };

/** Set before an argument that begins with "-" so the option parser reads it as an argument. */
const DASHED_MARK = "\u0000";

function unmark<T>(value: T): T {
  if (Array.isArray(value)) return value.map(unmark) as T;
  return (typeof value === "string" && value.startsWith(DASHED_MARK)
    ? value.slice(DASHED_MARK.length)
    : value) as T;
}

/** The option every command takes. */
const HELP_OPTION: OptionSpec = { name: "help", short: "h", help: "Show this help" };

/**
 * Reads `args` against `spec`: the subcommand they name (for a group), then its options and
 * arguments. `--help` or `-h` anywhere before `--` asks for the help of the deepest command
 * named so far. Throws {@linkcode UsageError} for anything the spec does not allow.
 *
 * @example
 * ```ts
 * const invocation = parseCommandLine(USER_COMMAND, ["add", "alice"]);
 * if (invocation.help !== undefined) console.log(invocation.help);
 * ```
 */
export function parseCommandLine(spec: CommandSpec, args: readonly string[]): Invocation {
  const end = args.indexOf("--");
  const helpAsked = (end < 0 ? args : args.slice(0, end)).some((arg) =>
    arg === "--help" || arg === "-h"
  );
  if (spec.commands) {
    const [word, ...rest] = args;
    const command = spec.commands.find((sub) => sub.name === `${spec.name} ${word}`);
    if (command) return parseCommandLine(command, rest);
    if (helpAsked) return { help: helpText(spec) };
    const names = spec.commands.map(lastWord).join(", ");
    if (word === undefined) {
      throw new UsageError(`Missing command: one of ${names}`, usageLine(spec));
    }
    throw new UsageError(`Unknown command "${word}": use one of ${names}`, usageLine(spec));
  }
  if (helpAsked) return { help: helpText(spec) };
  // Only `-h` is a short option, so a longer word with one leading dash is an argument: key
  // ids are base64url and one in 32 begins with "-".
  const dashed = args.map((arg, index) =>
    /^-[^-]./.test(arg) && index < (end < 0 ? Infinity : end)
  );
  let parsed;
  try {
    parsed = parseArgs({
      args: args.map((arg, index) => dashed[index] ? `${DASHED_MARK}${arg}` : arg),
      strict: true,
      allowPositionals: true,
      options: parserOptions(spec),
    });
  } catch (error) {
    throw new UsageError(parserMessage(error as Error), usageLine(spec));
  }
  const expected = spec.args ?? [];
  const positionals = parsed.positionals.map(unmark);
  if (positionals.length < expected.length) {
    throw new UsageError(`Missing ${expected[positionals.length]}`, usageLine(spec));
  }
  if (positionals.length > expected.length) {
    throw new UsageError(
      `Unexpected argument "${positionals[expected.length]}"`,
      usageLine(spec),
    );
  }
  const values = Object.fromEntries(
    Object.entries(parsed.values).map(([name, value]) => [name, unmark(value)]),
  ) as OptionValues;
  return { command: spec, values, positionals };
}

/** Every option `spec` accepts, `--help` included: what its parser and its help both show. */
export function optionsOf(spec: CommandSpec): OptionSpec[] {
  return [...spec.options ?? [], HELP_OPTION];
}

/** The one-line synopsis of a command: `deno task user add NAME`, `deno task serve [options]`. */
export function usageLine(spec: CommandSpec): string {
  const words = [PROGRAM, spec.name.trim()].filter(Boolean);
  if (spec.commands) words.push("COMMAND", "[ARGUMENTS]");
  else {
    words.push(...spec.args ?? []);
    if ((spec.options ?? []).length > 0) words.push("[options]");
  }
  return words.join(" ");
}

/** The whole help of a command: usage, summary, details, subcommands and options. */
export function helpText(spec: CommandSpec): string {
  const sections = [`Usage: ${usageLine(spec)}`, wrap(spec.summary, "")];
  for (const paragraph of spec.details ?? []) sections.push(wrap(paragraph, ""));
  if (spec.commands) {
    sections.push(
      table("Commands:", spec.commands.map((sub) => [synopsis(sub), sub.summary])),
    );
  }
  const options = optionsOf(spec).map((option) => [optionLabel(option), optionHelp(option)]);
  if (spec.commands) {
    options[options.length - 1][1] = `Show this help; after a command, that command's help`;
  }
  sections.push(table("Options:", options));
  return sections.join("\n\n");
}

/** The two lines printed for wrong arguments. */
export function usageErrorLines(error: UsageError): string[] {
  return [`Error: ${error.message}`, `Usage: ${error.usage} (--help for more)`];
}

/** A subcommand as its group's help lists it: `add NAME`. */
function synopsis(spec: CommandSpec): string {
  return [lastWord(spec), ...spec.args ?? []].join(" ");
}

function lastWord(spec: CommandSpec): string {
  return spec.name.split(" ").at(-1)!;
}

function optionLabel(option: OptionSpec): string {
  const long = `--${option.name}${option.value ? ` ${option.value}` : ""}`;
  return option.short ? `-${option.short}, ${long}` : long;
}

function optionHelp(option: OptionSpec): string {
  return option.multiple ? `${option.help}; repeatable` : option.help;
}

/**
 * Runs a program's `main` and sets the exit status to what it returns; for a
 * {@linkcode UsageError}, prints its error and usage lines on stderr and exits
 * {@linkcode USAGE_EXIT_CODE}; for any other error, prints one `Error:` line, lets `explain` add
 * more (a stack, when asked for), and exits 1.
 */
export async function runProgram(
  main: () => Promise<number>,
  explain?: (error: unknown) => void,
): Promise<void> {
  try {
    Deno.exitCode = await main();
  } catch (error) {
    if (error instanceof UsageError) {
      for (const line of usageErrorLines(error)) console.error(line);
      Deno.exitCode = USAGE_EXIT_CODE;
    } else {
      console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
      explain?.(error);
      Deno.exitCode = 1;
    }
  }
}

function parserOptions(spec: CommandSpec) {
  return Object.fromEntries(
    optionsOf(spec).map((option) => [option.name, {
      type: option.value ? "string" as const : "boolean" as const,
      ...(option.short && { short: option.short }),
      ...(option.multiple && { multiple: true }),
    }]),
  );
}

/** node:util's message, first sentence only, values in double quotes. */
function parserMessage(error: Error): string {
  return error.message.split(/\.\s|\n/)[0].replace(/'([^']*)'/g, '"$1"');
}

/** A titled two-column list, the second column wrapped and aligned. */
function table(title: string, rows: string[][]): string {
  const width = Math.max(...rows.map(([label]) => label.length)) + 4;
  const lines = rows.map(([label, text]) =>
    wrap(text, " ".repeat(width), `  ${label}`.padEnd(width))
  );
  return [title, ...lines].join("\n");
}

/** Wraps `text` after `first` to {@linkcode WIDTH}, continuation lines starting with `indent`. */
function wrap(text: string, indent: string, first = ""): string {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = indent;
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}
