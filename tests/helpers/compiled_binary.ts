/**
 * What `deno compile` put into an executable, and what it should have: the npm packages in the
 * binary's embedded file tree, and those the module graph of an entry point reaches, both as
 * `name@version`.
 *
 * @module
 */

/** Where `deno compile` keeps npm packages in the embedded file tree, below the registry's folder. */
const NODE_MODULES = '[{"Dir":{"n":".deno_compile_node_modules"';

interface VfsDir {
  n: string;
  e: VfsEntry[];
}

type VfsEntry = { Dir: VfsDir } | { File: { n: string } } | { Symlink: { n: string } };

/**
 * The npm packages embedded in a compiled executable, sorted `name@version` strings.
 *
 * @example
 * ```ts
 * embeddedNpmPackages(await Deno.readFile("bin/auth-api")); // ["jose@6.2.18", …]
 * ```
 */
export function embeddedNpmPackages(binary: Uint8Array): string[] {
  const tree = embeddedFileTree(binary);
  const nodeModules = directories(tree).find((dir) => dir.n === ".deno_compile_node_modules");
  if (!nodeModules) throw new Error("The binary embeds no npm packages");
  const packages: string[] = [];
  for (const registry of directories(nodeModules.e)) {
    for (const dir of directories(registry.e)) {
      const named = dir.n.startsWith("@")
        ? directories(dir.e).map((inner) => ({ name: `${dir.n}/${inner.n}`, versions: inner.e }))
        : [{ name: dir.n, versions: dir.e }];
      for (const { name, versions } of named) {
        for (const version of directories(versions)) packages.push(`${name}@${version.n}`);
      }
    }
  }
  return packages.sort();
}

/**
 * The npm packages the module graph of `entry` reaches, directly or through other packages, as
 * `deno info` resolves them in `cwd`: sorted `name@version` strings.
 */
export async function reachableNpmPackages(cwd: string, entry: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  const info: {
    modules: { npmPackage?: string }[];
    npmPackages: Record<string, { name: string; version: string; dependencies: string[] }>;
  } = JSON.parse(new TextDecoder().decode(output.stdout));
  const reached = new Set<string>();
  const pending = info.modules.flatMap((module) => module.npmPackage ? [module.npmPackage] : []);
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    pending.push(...info.npmPackages[id].dependencies);
  }
  return [...reached].map((id) => `${info.npmPackages[id].name}@${info.npmPackages[id].version}`)
    .sort();
}

/** The embedded file tree: the JSON array that starts with the npm packages' folder. */
function embeddedFileTree(binary: Uint8Array): VfsEntry[] {
  const text = new TextDecoder("latin1").decode(binary);
  const start = text.indexOf(NODE_MODULES);
  if (start < 0) throw new Error("No embedded file tree with npm packages in the binary");
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "[" || char === "{") {
      depth++;
    } else if ((char === "]" || char === "}") && --depth === 0) {
      return JSON.parse(new TextDecoder().decode(binary.subarray(start, i + 1)));
    }
  }
  throw new Error("The embedded file tree does not end");
}

function directories(entries: VfsEntry[]): VfsDir[] {
  return entries.flatMap((entry) => "Dir" in entry ? [entry.Dir] : []);
}
