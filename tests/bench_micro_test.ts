/**
 * @module
 * The benchmarks' micro file loads and runs as `deno task bench` runs it: in a child process
 * with no permissions at all, so that nothing it imports reads files or the environment.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runMicroBenchmarks } from "./bench/micro.ts";

Deno.test("the micro-benchmarks run without permissions, as deno task bench runs them", async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const results = await runMicroBenchmarks(root, { filter: "router dispatch" });
  assert.deepEqual(results.map((result) => result.name).sort(), [
    "router dispatch, literal path (/hello)",
    "router dispatch, patterned path (/keys/:kid)",
  ]);
});
