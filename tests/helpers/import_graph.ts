/**
 * The import graph of `src/` as Deno resolves it: `deno info --json` from the entry points
 * (`main.ts`, `client.ts`) and from any file under `src/` they do not reach, so that every file is
 * in it. Static, dynamic and type-only imports are all edges; npm and `node:` modules are left
 * out. Also finds the cycles of such a graph.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { relative } from "node:path";

/** One import of one of our files by another, paths relative to `src/`. */
export interface Import {
  /** The importing file, e.g. `certs/load.ts`. */
  from: string;
  /** The imported file, e.g. `config.ts`. */
  to: string;
  /** 1-based line of the import in `from`. */
  line: number;
  /** How it is written: `import type` (or a type-only specifier list), `import()`, or a plain import. */
  kind: "type" | "dynamic" | "static";
}

/** The files under `src/` and the imports between them. */
export interface ImportGraph {
  /** Every `.ts` file under `src/`, relative to it, sorted. */
  files: string[];
  /** Every import between two of those files, once per imported path. */
  imports: Import[];
}

/** The entry points: the command line (and compiled binary) and the tutorial's client script. */
const ENTRY_POINTS = ["main.ts", "client.ts"];

interface InfoDependency {
  code?: { specifier: string; span: { start: { line: number } } };
  type?: { specifier: string; span: { start: { line: number } } };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
  error?: string;
}

/**
 * Reads the import graph of the `src/` folder beside `projectRoot`'s deno.json.
 *
 * @example
 * ```ts
 * const { files, imports } = await readImportGraph(new URL("../..", import.meta.url));
 * ```
 */
export async function readImportGraph(projectRoot: URL): Promise<ImportGraph> {
  const root = fileURLToPath(projectRoot);
  const src = new URL("src/", projectRoot);
  const files = (await listTypeScript(fileURLToPath(src))).map((path) =>
    relative(fileURLToPath(src), path)
  ).sort();
  const modules = new Map<string, InfoModule>();
  for (const file of [...ENTRY_POINTS, ...files]) {
    if (modules.has(new URL(file, src).href)) continue;
    for (const module of await denoInfo(root, new URL(file, src))) {
      modules.set(module.specifier, module);
    }
  }
  const imports: Import[] = [];
  for (const module of modules.values()) {
    const from = ourFile(src, module.specifier);
    if (from === undefined) continue;
    if (module.error) throw new Error(`deno info cannot read src/${from}: ${module.error}`);
    for (const dependency of module.dependencies ?? []) {
      const resolved = dependency.code ?? dependency.type;
      const to = resolved && ourFile(src, resolved.specifier);
      if (to === undefined) continue;
      imports.push({
        from,
        to,
        line: resolved!.span.start.line + 1,
        kind: dependency.isDynamic ? "dynamic" : dependency.code ? "static" : "type",
      });
    }
  }
  imports.sort((a, b) => a.from.localeCompare(b.from) || a.line - b.line);
  return { files, imports };
}

/**
 * The cycles of a graph: each strongly connected set of two or more files (or one file importing
 * itself), as one path through it that starts and ends at the same file.
 *
 * @example
 * ```ts
 * findCycles([{ from: "a.ts", to: "b.ts", line: 1, kind: "type" }, { from: "b.ts", to: "a.ts", line: 1, kind: "static" }]);
 * // [["a.ts", "b.ts", "a.ts"]]
 * ```
 */
export function findCycles(imports: readonly Import[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of imports) {
    if (!next.has(from)) next.set(from, []);
    if (!next.get(from)!.includes(to)) next.get(from)!.push(to);
  }
  const cycles: string[][] = [];
  for (const component of stronglyConnected(next)) {
    const single = component.length === 1 && !(next.get(component[0]) ?? []).includes(component[0]);
    if (!single) cycles.push(pathAround(component, next));
  }
  return cycles;
}

/** Tarjan's algorithm: the strongly connected components, each sorted, in a stable order. */
function stronglyConnected(next: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const target of next.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of [...next.keys()].sort()) if (!index.has(node)) visit(node);
  return components.sort((a, b) => a[0].localeCompare(b[0]));
}

/** A shortest way from the component's first file back to itself, staying inside the component. */
function pathAround(component: string[], next: Map<string, string[]>): string[] {
  const inside = new Set(component);
  const start = component[0];
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of next.get(node) ?? []) {
      if (!inside.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at: string | undefined = node; at !== undefined; at = cameFrom.get(at)) {
          path.unshift(at);
        }
        return path;
      }
      if (!cameFrom.has(target) && target !== start) {
        cameFrom.set(target, node);
        queue.push(target);
      }
    }
  }
  return [...component, start];
}

/** The path of `specifier` relative to `src/` when it is one of our files there. */
function ourFile(src: URL, specifier: string): string | undefined {
  return specifier.startsWith(src.href) ? specifier.slice(src.href.length) : undefined;
}

/** `deno info --json` of one module, run in the project so that its deno.json applies. */
async function denoInfo(cwd: string, module: URL): Promise<InfoModule[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", module.href],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno info ${module.href} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout)).modules;
}

/** Every `.ts` file under `dir`, recursively. */
async function listTypeScript(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await listTypeScript(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}
