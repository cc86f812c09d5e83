/**
 * @module
 * Plain-text tables for the benchmark's report: a header, a rule and rows, each column padded to
 * its widest cell and aligned left or right.
 */

/** Column alignment of {@linkcode renderTable}. */
export type Align = "left" | "right";

/**
 * Renders rows as a plain-text table with a header rule, columns padded to their widest cell;
 * columns are left-aligned unless `align` says otherwise.
 *
 * @example
 * ```ts
 * renderTable(["server", "req/s"], [["ours", "9,876"]], ["left", "right"]);
 * ```
 */
export function renderTable(
  header: string[],
  rows: string[][],
  align: Align[] = [],
  indent = "  ",
): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length))
  );
  const line = (cells: string[]) =>
    indent +
    cells.map((cell, column) =>
      align[column] === "right"
        ? (cell ?? "").padStart(widths[column])
        : (cell ?? "").padEnd(widths[column])
    ).join("  ").trimEnd();
  const rule = indent + widths.map((width) => "-".repeat(width)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}
