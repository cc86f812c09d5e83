/**
 * @module
 * The documentation against the code, both ways: the configuration table of src/README.md and the
 * variables the service reads, the metrics table of src/deploy/README.md and the series a real
 * server exposes, the Debian packages the README names and those `.ci/run` installs, the
 * openid-client example and the file the tests run, and every link between the READMEs.
 */
import assert from "node:assert/strict";
import { ENV_VARIABLES, POSTGRES_CLIENT_VARIABLES } from "../src/config_environment.ts";
import { SERVE_COMMAND } from "../src/serve_command.ts";
import { README_SCREENSHOT_DIR, README_SCREENSHOTS } from "./helpers/browser.ts";
import { hello, startTestServer } from "./helpers/server.ts";
import { waitFor } from "./helpers/wait.ts";

const ROOT = new URL("..", import.meta.url);

function read(path: string): Promise<string> {
  return Deno.readTextFile(new URL(path, ROOT));
}

/** The section of `markdown` under the heading `heading` (any level), up to the next heading. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) =>
    /^#+ /.test(line) && line.replace(/^#+ /, "") === heading
  );
  assert.ok(start >= 0, `a "${heading}" heading`);
  const level = lines[start].indexOf(" ");
  const end = lines.findIndex((line, i) =>
    i > start && /^#+ /.test(line) && line.indexOf(" ") <= level && !inFence(lines, i)
  );
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** Whether line `index` of `lines` is inside a fenced code block. */
function inFence(lines: string[], index: number): boolean {
  return lines.slice(0, index).filter((line) => line.startsWith("```")).length % 2 === 1;
}

/** The rows of the first table in `text`, each a list of cells, without the header. */
function tableRows(text: string): string[][] {
  const lines = text.split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  assert.ok(first >= 0, "a table");
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim()));
  }
  return rows;
}

/** The `code` spans of a cell. */
function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].toSorted();
}

Deno.test("src/README.md's configuration table names every variable the service reads, and no other", async () => {
  const names = tableRows(section(await read("src/README.md"), "Configuration"))
    .flatMap(([first]) => codeSpans(first));
  assert.deepEqual(
    sorted(names.filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name))),
    sorted(ENV_VARIABLES),
  );
  const flags = names.filter((name) => name.startsWith("--")).map((flag) => flag.slice(2));
  // --check is no setting but an action, which the text beside the table describes.
  const settings = SERVE_COMMAND.options!.map((option) => option.name).filter((name) =>
    name !== "check"
  );
  assert.deepEqual(sorted(flags), sorted(settings));
  assert.deepEqual(
    names.filter((name) => !/^[A-Z][A-Z0-9_]*$/.test(name) && !name.startsWith("--")),
    [],
  );
});

Deno.test("src/README.md's configuration section names the variables the PostgreSQL client reads, and serve --check", async () => {
  const text = section(await read("src/README.md"), "Configuration");
  for (const name of POSTGRES_CLIENT_VARIABLES) assert.match(text, new RegExp(`\`${name}\``), name);
  assert.match(text, /serve --check/);
});

/** One documented series: its name, kind and labels with the values the table lists. */
interface DocumentedMetric {
  histogram: boolean;
  labels: Map<string, string[] | undefined>;
}

/** The metrics table of src/deploy/README.md, by series name. */
function documentedMetrics(readme: string): Map<string, DocumentedMetric> {
  const metrics = new Map<string, DocumentedMetric>();
  for (const [names, labels] of tableRows(section(readme, "Metrics"))) {
    const labelMap = new Map<string, string[] | undefined>();
    // `label` (`value`, `value`) lists the values; `label` (the current key's) only explains.
    for (const match of labels.matchAll(/`(\w+)`(?: \(([^)]*)\))?/g)) {
      const values = match[2] !== undefined && match[2].startsWith("`")
        ? codeSpans(match[2])
        : undefined;
      labelMap.set(match[1], values);
    }
    for (const name of codeSpans(names)) {
      metrics.set(name, { histogram: names.includes("(histogram)"), labels: labelMap });
    }
  }
  return metrics;
}

/** The series of a Prometheus exposition: kind, and each label's values, by family name. */
function exposedMetrics(
  text: string,
): Map<string, { type: string; labels: Map<string, Set<string>> }> {
  const families = new Map<string, { type: string; labels: Map<string, Set<string>> }>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    families.set(name, { type, labels: new Map() });
  }
  for (const line of text.split("\n")) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const [, sampleName, labels = ""] = sample;
    const family = families.get(sampleName) ??
      families.get(sampleName.replace(/_(bucket|sum|count)$/, ""));
    assert.ok(family, `a TYPE line for ${sampleName}`);
    for (const [, key, value] of labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      if (key === "le") continue;
      if (!family.labels.has(key)) family.labels.set(key, new Set());
      family.labels.get(key)!.add(value);
    }
  }
  return families;
}

Deno.test("the metrics table of src/deploy/README.md lists every series a server exposes, with its labels and their fixed values", async () => {
  const documented = documentedMetrics(await read("src/deploy/README.md"));
  await using server = await startTestServer({
    users: { alice: "alice-password-1" },
    env: { METRICS_PORT: "0" },
  });
  // One request and one store operation, so that the series made on first use exist too.
  assert.equal((await hello(server, "Bearer not-a-token")).res.status, 401);
  // The event-loop histogram has its first sample when its 500 ms timer first fires.
  const exposed = await waitFor("every documented series to be exposed", async () => {
    const res = await fetch(server.running.metricsUrl!);
    const series = exposedMetrics(await res.text());
    return [...documented.keys()].every((name) => series.has(name)) && series;
  }, { intervalMs: 100, timeoutMs: 5_000 }).catch(async () =>
    exposedMetrics(await (await fetch(server.running.metricsUrl!)).text())
  );

  assert.deepEqual(sorted(documented.keys()), sorted(exposed.keys()));
  for (const [name, { histogram, labels }] of documented) {
    const series = exposed.get(name)!;
    assert.equal(histogram, series.type === "histogram", `${name} is marked a histogram or not`);
    assert.deepEqual(sorted(labels.keys()), sorted(series.labels.keys()), `labels of ${name}`);
    for (const [label, values] of labels) {
      if (values === undefined) continue;
      assert.deepEqual(sorted(values), sorted(series.labels.get(label)!), `${name}{${label}}`);
    }
  }
});

/** The packages of the first `apt-get install` command in `text`. */
function aptInstall(text: string): string[] {
  const command = /apt-get install ((?:\\\n|[^\n`\\])+)/.exec(text);
  assert.ok(command, "an apt-get install command");
  return command[1].replace(/\\\n/g, " ").split(/\s+/).filter((word) =>
    /^[a-z0-9][\w.+-]*$/.test(word)
  );
}

Deno.test("README and tests/README.md name the Debian packages .ci/run installs, and no other", async () => {
  const list = /^APT_PACKAGES=\(([^)]*)\)$/m.exec(await read(".ci/run"));
  assert.ok(list, ".ci/run has APT_PACKAGES");
  const packages = sorted(list[1].split(/\s+/).filter(Boolean));
  assert.ok(packages.includes("jq"), "the five-minute path needs jq");
  assert.deepEqual(sorted(aptInstall(section(await read("README.md"), "Quick start"))), packages);
  assert.deepEqual(sorted(aptInstall(await read("tests/README.md"))), packages);
});

Deno.test("the openid-client example in src/auth/sign_in/README.md is the file the tests type-check and run", async () => {
  const readme = await read("src/auth/sign_in/README.md");
  const marker = "<!-- tests/openid_client_example.ts -->";
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, marker);
  const block = /^\s*```ts\n([\s\S]*?)```$/m.exec(readme.slice(at + marker.length));
  assert.ok(block, "a ts block follows the marker");
  const file = await read("tests/openid_client_example.ts");
  const code = file.slice(file.indexOf("*/\n") + 3);
  assert.equal(block[1], code);
  assert.match(code, /discovery's 5th argument/);
});

Deno.test("the device-flow example in src/auth/sign_in/README.md is the file the tests type-check and run", async () => {
  const readme = await read("src/auth/sign_in/README.md");
  const marker = "<!-- tests/openid_client_device_example.ts -->";
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, marker);
  const block = /^\s*```ts\n([\s\S]*?)```$/m.exec(readme.slice(at + marker.length));
  assert.ok(block, "a ts block follows the marker");
  const file = await read("tests/openid_client_device_example.ts");
  assert.equal(block[1], file.slice(file.indexOf("*/\n") + 3));
});

/** Every README of the project, as paths from its root. */
async function readmes(): Promise<string[]> {
  const found: string[] = ["README.md"];
  for (const top of ["src", "tests"]) {
    const walk = async (dir: string): Promise<void> => {
      for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) await walk(path);
        else if (entry.name === "README.md") found.push(path);
      }
    };
    await walk(top);
  }
  return found;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-");
}

Deno.test("every relative link between the READMEs reaches a file, and a heading where it names one", async () => {
  const paths = await readmes();
  assert.ok(paths.length >= 10, `READMEs: ${paths}`);
  for (const path of paths) {
    const text = await read(path);
    const prose = text.split("\n").filter((_, i, lines) => !inFence(lines, i)).join("\n");
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split("#");
      const url = new URL(file || path.split("/").at(-1)!, new URL(path, ROOT));
      const stat = await Deno.stat(url).catch(() => undefined);
      assert.ok(stat, `${path} links to ${target}, which does not exist`);
      if (anchor === undefined) continue;
      const linked = await Deno.readTextFile(url);
      const anchors = linked.split("\n").filter((line, i, lines) =>
        /^#+ /.test(line) && !inFence(lines, i)
      ).map((line) => anchorOf(line.replace(/^#+ /, "")));
      assert.ok(anchors.includes(anchor), `${path} links to ${target}: no such heading`);
    }
  }
});

Deno.test("README's screenshots are the ones deno task screenshots takes, and each is a PNG image", async () => {
  const readme = await read("README.md");
  const shown = [...readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((match) => match[1]);
  const dir = README_SCREENSHOT_DIR.slice(new URL(ROOT).pathname.length);
  assert.deepEqual(shown, README_SCREENSHOTS.map((name) => `${dir}${name}.png`));
  for (const path of shown) {
    const bytes = await Deno.readFile(new URL(path, ROOT));
    assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], path);
  }
});
