/** How a command prints what it found: a plain table for a person, JSON for a program. */
export type OutputFormat = 'table' | 'json';

/** `--json` forces JSON; else a table on a terminal and JSON in a pipe. */
export const outputFormat = (json: boolean | undefined): OutputFormat =>
  json || !process.stdout.isTTY ? 'json' : 'table';

/** Rows as aligned columns, the header first; cells are shown as strings, absent ones as '-'. */
export function table(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[],
): string {
  const cell = (v: unknown) => (v === undefined || v === null ? '-' : String(v));
  const lines = [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines
    .map((l) =>
      l
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Writes `value` as one JSON line, or `person()` on a terminal. */
export function print(format: OutputFormat, value: unknown, person: () => string): void {
  process.stdout.write(`${format === 'json' ? JSON.stringify(value) : person()}\n`);
}
