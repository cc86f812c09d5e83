/**
 * @module
 * The layering of src/ as the design sets it out: a table of who may import whom (storage, the HTTP
 * edge, the domain parts in their order, the backends that only store/open.ts picks), checked
 * against every import under src/, type-only and dynamic ones included, and no import cycle. The
 * checks themselves are tested to name the file, line and rule of each break.
 */
import assert from "node:assert/strict";
import { findCycles, type Import, readImportGraph } from "./helpers/import_graph.ts";

// Who may import whom under src/. Patterns are relative to src/: "x.ts" is one file, "dir/" a
// folder and everything below it, "*" any name within one folder. A rule with `only` lists every
// place its files may import; one with `never` the places they must not; `except` takes files out
// of `files`. Imports of npm packages and node: modules are not rules' business.

/**
 * The files that put the service together and start it, and the configuration they read: config.ts
 * (the typed Config) and the config_*.ts and serve_command.ts files that read it from the flags and
 * the environment.
 */
const BOOT = [
  "main.ts",
  "server.ts",
  "shutdown.ts",
  "app.ts",
  "config.ts",
  "config_*.ts",
  "serve_command.ts",
  "router.ts",
];
/** What reads the Config without putting the service together: commands and start-up checks. */
const CONFIG_READERS = ["cli/", "check.ts", "dev.ts", "file_permissions.ts"];
/** Programs run from the command line: nothing imports them. */
const ENTRY_POINTS = ["main.ts", "client.ts", "deploy/compile.ts"];
/** The SQLite store backend, as one file today or a folder of per-part files. */
const SQLITE = ["store/sqlite.ts", "store/sqlite/"];
/** The PostgreSQL store backend, as one file today or a folder of per-part files. */
const POSTGRES = ["store/postgres.ts", "store/postgres/"];
/** The one file that picks a backend from DATABASE_URL. */
const STORE_PICKER = "store/open.ts";
/** The store's interfaces (and the backends and the picker, which other rules take out). */
const STORE_INTERFACES = ["store/*.ts"];
/** The decisions both backends share: the store's own, beneath its interfaces. */
const STORE_DECISIONS = "store/_*.ts";
/** The parts of the domain, each building only on those before it. */
const AUTH_PARTS = ["accounts", "clients", "tokens", "sign_in"];

interface Rule {
  files: string[];
  except?: string[];
  only?: string[];
  never?: string[];
  why: string;
}

const RULES: Rule[] = [
  {
    files: ["clock.ts", "log.ts", "terminal.ts", "files.ts"],
    only: [],
    why:
      "time, logging, keyboard input and file-system questions sit below everything and import nothing of ours",
  },
  { files: ["net/"], only: ["net/"], why: "address arithmetic knows nothing of the service" },
  {
    files: ["http/"],
    only: ["http/", "clock.ts", "log.ts", "net/"],
    why: "the protocol edge knows no domain, storage or configuration",
  },
  {
    files: ["store/"],
    only: ["store/", "clock.ts", "files.ts"],
    why: "storage is handed its settings and knows no domain, configuration or web layer",
  },
  {
    files: SQLITE,
    never: [...POSTGRES, STORE_PICKER],
    why: "a backend stands alone; only store/open.ts picks one",
  },
  {
    files: POSTGRES,
    never: [...SQLITE, STORE_PICKER],
    why: "a backend stands alone; only store/open.ts picks one",
  },
  {
    files: ["**"],
    except: ["store/"],
    never: [...SQLITE, ...POSTGRES],
    why: "only store/open.ts picks a backend; everything else sees the store's interfaces",
  },
  {
    files: ["auth/"],
    only: ["auth/", "clock.ts", ...STORE_INTERFACES],
    never: [STORE_PICKER, STORE_DECISIONS, ...SQLITE, ...POSTGRES],
    why:
      "the domain builds no response, reads no configuration, reports to the audit trail and metrics only through its events, and sees only store interfaces",
  },
  {
    files: ["auth/*.ts"],
    never: ["auth/*/"],
    why: "files shared by the parts of auth/ sit below every part",
  },
  {
    files: ["auth/accounts/"],
    never: ["auth/clients/", "auth/tokens/", "auth/sign_in/"],
    why: "a part of auth/ builds only on earlier parts: accounts < clients < tokens < sign_in",
  },
  {
    files: ["auth/clients/"],
    never: ["auth/tokens/", "auth/sign_in/"],
    why: "a part of auth/ builds only on earlier parts: accounts < clients < tokens < sign_in",
  },
  {
    files: ["auth/tokens/"],
    never: ["auth/sign_in/"],
    why: "a part of auth/ builds only on earlier parts: accounts < clients < tokens < sign_in",
  },
  {
    files: ["handlers/"],
    never: ["store/"],
    why: "handlers reach storage only through the domain's services",
  },
  {
    files: ["handlers/"],
    never: ["cli/"],
    why: "handlers answer requests; the commands are programs of their own",
  },
  {
    files: ["pages/"],
    only: ["pages/", "http/html.ts", "clock.ts"],
    why:
      "pages are templates: they escape what they are given with http/html.ts and know no request, domain, storage or configuration",
  },
  {
    files: ["certs/"],
    only: ["certs/"],
    why: "the certificate tools are handed their paths and read no configuration",
  },
  {
    files: ["client.ts"],
    only: ["terminal.ts", "usage.ts"],
    why: "the tutorial's client stands alone and talks to the service only over HTTPS",
  },
  {
    files: ["**"],
    except: [...BOOT, ...CONFIG_READERS],
    never: BOOT,
    why: "the boot files put the service together; nothing below them imports them",
  },
  {
    files: CONFIG_READERS,
    never: BOOT.filter((file) => file !== "config.ts"),
    why: "the commands and the start-up checks read the Config, no other boot file",
  },
  { files: ["**"], never: ENTRY_POINTS, why: "a program run from the command line" },
];

/** A pattern of the table as a regular expression over paths relative to src/. */
function patternRegExp(pattern: string): RegExp {
  const glob = pattern.endsWith("/") ? `${pattern}**` : pattern;
  const source = glob.split("**").map((part) =>
    part.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*")
  ).join(".*");
  return new RegExp(`^${source}$`);
}

function matches(path: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => patternRegExp(pattern).test(path));
}

/** One line per import that breaks a rule, naming both files, the line and the rule's reason. */
function layerViolations(imports: readonly Import[], rules: readonly Rule[]): string[] {
  const found: string[] = [];
  for (const { from, to, line, kind } of imports) {
    for (const rule of rules) {
      if (!matches(from, rule.files) || matches(from, rule.except ?? [])) continue;
      const broken = (rule.only !== undefined && !matches(to, rule.only)) ||
        matches(to, rule.never ?? []);
      if (broken) {
        const how = kind === "static" ? "imports" : `imports (${kind})`;
        found.push(`src/${from}:${line} ${how} src/${to}: ${rule.why}`);
      }
    }
  }
  return found;
}

const PROJECT = new URL("..", import.meta.url);

Deno.test("every import under src/ follows the layer table, type-only and dynamic ones too", async () => {
  const { files, imports } = await readImportGraph(PROJECT);
  assert.ok(files.includes("main.ts") && files.includes("client.ts"), files.join(", "));
  assert.ok(imports.length > files.length, `too few imports read: ${imports.length}`);
  const found = layerViolations(imports, RULES);
  assert.deepEqual(found, [], `imports that break the layer table:\n${found.join("\n")}`);
});

Deno.test("src/ has no import cycle, type-only and dynamic imports included", async () => {
  const { imports } = await readImportGraph(PROJECT);
  const cycles = findCycles(imports).map((cycle) => cycle.map((file) => `src/${file}`));
  assert.deepEqual(
    cycles,
    [],
    `import cycles:\n${cycles.map((cycle) => cycle.join(" -> ")).join("\n")}`,
  );
});

Deno.test("auth/ has no folder but its parts, so that each folder has a place in their order", async () => {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(new URL("src/auth/", PROJECT))) {
    if (entry.isDirectory) folders.push(entry.name);
  }
  const unknown = folders.filter((folder) => !AUTH_PARTS.includes(folder));
  assert.deepEqual(
    unknown,
    [],
    `src/auth/ folders outside the parts ${
      AUTH_PARTS.join(" < ")
    }: add them to AUTH_PARTS and RULES`,
  );
});

Deno.test("the layer check names both files, the line and the reason of each import that breaks a rule", () => {
  const imports = (edges: [string, string][]): Import[] =>
    edges.map(([from, to], i) => ({ from, to, line: i + 1, kind: "static" }));
  assert.deepEqual(
    layerViolations(imports([["certs/load.ts", "config.ts"]]), RULES),
    [
      "src/certs/load.ts:1 imports src/config.ts: the certificate tools are handed their paths and read no configuration",
      "src/certs/load.ts:1 imports src/config.ts: the boot files put the service together; nothing below them imports them",
    ],
  );
  const broken: [string, string][] = [
    ["client.ts", "cli/secret.ts"],
    ["store/open.ts", "config.ts"],
    ["store/sqlite/users.ts", "store/postgres/users.ts"],
    ["store/postgres.ts", "store/open.ts"],
    ["auth/tokens/refresh_families.ts", "auth/sign_in/codes.ts"],
    ["auth/accounts/users.ts", "auth/clients/registry.ts"],
    ["auth/errors.ts", "auth/accounts/users.ts"],
    ["auth/sign_in/codes.ts", "http/json.ts"],
    ["auth/tokens/keys.ts", "store/sqlite/keys.ts"],
    ["auth/clients/registry.ts", "config.ts"],
    ["auth/accounts/throttle.ts", "config_environment.ts"],
    ["metrics.ts", "config_defaults.ts"],
    ["cli/keys.ts", "config_load.ts"],
    ["handlers/hello.ts", "store/store.ts"],
    ["handlers/login.ts", "cli/user.ts"],
    ["pages/sign_in.ts", "http/json.ts"],
    ["pages/account.ts", "auth/errors.ts"],
    ["pages/layout.ts", "config.ts"],
    ["pages/consent.ts", "store/store.ts"],
    ["auth/tokens/access_tokens.ts", "metrics.ts"],
    ["auth/sign_in/flow.ts", "audit.ts"],
    ["auth/sign_in/flow.ts", "error_answers.ts"],
    ["auth/accounts/throttle.ts", "log.ts"],
    ["auth/accounts/passwords.ts", "cli/user.ts"],
    ["auth/tokens/refresh_families.ts", "store/_rotation.ts"],
    ["auth/tokens/refresh_families.ts", "store/open.ts"],
    ["http/edge.ts", "auth/errors.ts"],
    ["net/ip.ts", "log.ts"],
    ["clock.ts", "log.ts"],
    ["metrics.ts", "store/postgres/tokens.ts"],
    ["audit.ts", "server.ts"],
    ["cli/user.ts", "server.ts"],
    ["server.ts", "main.ts"],
  ];
  for (const [from, to] of broken) {
    const found = layerViolations(imports([[from, to]]), RULES);
    assert.ok(found.length > 0, `${from} -> ${to} breaks no rule`);
    for (const line of found) assert.ok(line.startsWith(`src/${from}:1 imports src/${to}: `), line);
  }
  const allowed: [string, string][] = [
    ["auth/sign_in/codes.ts", "auth/tokens/keys.ts"],
    ["auth/tokens/keys.ts", "auth/errors.ts"],
    ["auth/clients/registry.ts", "store/clients.ts"],
    ["auth/clients/removal.ts", "store/store.ts"],
    ["auth/tokens/signing_keys.ts", "clock.ts"],
    ["pages/account.ts", "http/html.ts"],
    ["pages/passkeys.ts", "clock.ts"],
    ["pages/sign_in.ts", "pages/layout.ts"],
    ["handlers/account.ts", "pages/account.ts"],
    ["store/open.ts", "store/sqlite/open.ts"],
    ["store/postgres/tokens.ts", "store/rotation.ts"],
    ["handlers/hello.ts", "auth/tokens/verify.ts"],
    ["cli/keys.ts", "config.ts"],
    ["dev.ts", "config.ts"],
    ["app.ts", "router.ts"],
    ["http/edge.ts", "log.ts"],
    ["client.ts", "terminal.ts"],
  ];
  assert.deepEqual(layerViolations(imports(allowed), RULES), []);
  const typeOnly: Import = { from: "handlers/a.ts", to: "store/store.ts", line: 9, kind: "type" };
  assert.deepEqual(layerViolations([typeOnly], RULES), [
    "src/handlers/a.ts:9 imports (type) src/store/store.ts: handlers reach storage only through the domain's services",
  ]);
});

Deno.test("the cycle check finds a circle of type-only imports and shows it from end to end", () => {
  const edge = (from: string, to: string, kind: Import["kind"] = "static"): Import => ({
    from,
    to,
    line: 1,
    kind,
  });
  assert.deepEqual(
    findCycles([
      edge("store/open.ts", "store/postgres.ts"),
      edge("store/postgres.ts", "store/open.ts", "type"),
      edge("store/open.ts", "store/sqlite.ts"),
      edge("a.ts", "b.ts"),
      edge("b.ts", "c.ts"),
      edge("c.ts", "a.ts", "dynamic"),
      edge("d.ts", "d.ts"),
    ]),
    [
      ["a.ts", "b.ts", "c.ts", "a.ts"],
      ["d.ts", "d.ts"],
      ["store/open.ts", "store/postgres.ts", "store/open.ts"],
    ],
  );
  assert.deepEqual(findCycles([edge("a.ts", "b.ts"), edge("b.ts", "c.ts")]), []);
});
