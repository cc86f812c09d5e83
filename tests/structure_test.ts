/**
 * @module
 * The house rules on the shape of every code file under src/ and tests/ (.ts, .mjs, .js): none is
 * longer than 500 lines, and each opens, after an optional `#!` line, with a JSDoc block that holds
 * an `@module` paragraph saying what the file owns or tests. Files are found by walking the folders;
 * what runs generate (tests/bench/results.json, screenshots, logs) is not code and is not looked at.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const MAX_LINES = 500;
const CODE = /\.(ts|mjs|js)$/;
/** Folders that hold only what runs generate, never code of the project. */
const GENERATED = new Set(["tests/screenshots", "node_modules"]);

/** Every code file under `top`, as paths from the project's root. */
async function codeFiles(top: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && !GENERATED.has(path)) await walk(path);
      else if (entry.isFile && CODE.test(entry.name)) found.push(path);
    }
  };
  await walk(top);
  return found.sort();
}

/** Whether `text` opens (after a `#!` line, if any) with a JSDoc block holding `@module`. */
function opensWithModuleDoc(text: string): boolean {
  const body = text.startsWith("#!") ? text.slice(text.indexOf("\n") + 1) : text;
  if (!body.startsWith("/**")) return false;
  const end = body.indexOf("*/");
  return end > 0 && /^\s*(\/\*\*|\*)?\s*@module\b/m.test(body.slice(0, end));
}

/** The number of lines of `text`, a last line without its newline counted too. */
function lineCount(text: string): number {
  if (text === "") return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

const files = [...await codeFiles("src"), ...await codeFiles("tests")];

Deno.test("the walk finds the code of both folders", () => {
  assert.ok(files.includes("src/main.ts"), "src/main.ts is found");
  assert.ok(files.includes("tests/structure_test.ts"), "this file is found");
  assert.ok(files.some((path) => path.endsWith(".mjs")), "the .mjs files are found");
});

Deno.test(`no code file under src/ or tests/ is longer than ${MAX_LINES} lines`, async () => {
  const long: string[] = [];
  for (const path of files) {
    const lines = lineCount(await Deno.readTextFile(new URL(path, ROOT)));
    if (lines > MAX_LINES) long.push(`${path}: ${lines} lines`);
  }
  assert.deepEqual(long, [], `split these files:\n${long.join("\n")}`);
});

Deno.test("every code file under src/ and tests/ opens with an @module JSDoc paragraph", async () => {
  const undocumented: string[] = [];
  for (const path of files) {
    if (!opensWithModuleDoc(await Deno.readTextFile(new URL(path, ROOT)))) undocumented.push(path);
  }
  assert.deepEqual(
    undocumented,
    [],
    `give these files an @module block:\n${undocumented.join("\n")}`,
  );
});

Deno.test("the @module rule reads a file as intended", () => {
  assert.ok(opensWithModuleDoc("/**\n * @module\n * What it does.\n */\nexport {};\n"));
  assert.ok(opensWithModuleDoc("/**\n * What it does.\n *\n * @module\n */\n"));
  assert.ok(opensWithModuleDoc("#!/usr/bin/env -S deno run\n/**\n * @module\n * Runs.\n */\n"));
  assert.ok(!opensWithModuleDoc('import x from "y";\n/**\n * @module\n */\n'));
  assert.ok(!opensWithModuleDoc("/** A function. */\nexport function f() {}\n/** @module */\n"));
  assert.ok(opensWithModuleDoc("/** @module What it does. */\n"));
  assert.ok(!opensWithModuleDoc("// @module\nexport {};\n"));
  assert.equal(lineCount("a\nb\n"), 2);
  assert.equal(lineCount("a\nb"), 2);
  assert.equal(lineCount(""), 0);
});
