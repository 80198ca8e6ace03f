/**
 * What `npm run bench` prints: one JSON line per figure as it is measured
 * (`{"bench":NAME,"value":…,"unit":…}`), one per ratio (`{"bench":"ratio","name":…,"value":…,
 * "target":…}`, target `>=x` or `<=x`), then a table of all of them. Notes (settings, machine) go
 * to stderr as `# …` lines, so stdout stays JSON lines until the table.
 */
export interface Figure {
  bench: string;
  value: number;
  unit: string;
}

export interface Ratio {
  name: string;
  value: number;
  target: string;
  met: boolean | undefined;
}

export class Report {
  readonly figures = new Map<string, Figure>();
  readonly ratios: Ratio[] = [];

  figure(bench: string, value: number, unit: string): number {
    const f = { bench, value: round(value), unit };
    this.figures.set(bench, f);
    console.log(JSON.stringify(f));
    return value;
  }

  value(bench: string): number | undefined {
    return this.figures.get(bench)?.value;
  }

  /**
   * `numerator ÷ denominator` against a target (`info`: no target, printed for information);
   * skipped when a side was not measured.
   */
  ratio(
    name: string,
    numerator: number | undefined,
    denominator: number | undefined,
    target: { atLeast: number } | { atMost: number } | 'info',
  ): void {
    if (numerator === undefined || denominator === undefined || !(denominator > 0)) return;
    const value = +(numerator / denominator).toFixed(3);
    const [text, met]: [string, boolean | undefined] =
      target === 'info'
        ? ['–', undefined]
        : 'atLeast' in target
          ? [`>=${target.atLeast}`, value >= target.atLeast]
          : [`<=${target.atMost}`, value <= target.atMost];
    this.ratios.push({ name, value, target: text, met });
    console.log(
      JSON.stringify({
        bench: 'ratio',
        name,
        value,
        ...(met === undefined ? {} : { target: text }),
      }),
    );
  }

  note(text: string): void {
    console.error(`# ${text}`);
  }

  table(): string {
    const rows = [
      '| figure | value | unit |',
      '|---|---:|---|',
      ...[...this.figures.values()].map((f) => `| ${f.bench} | ${f.value} | ${f.unit} |`),
      '',
      '| ratio | value | target | met |',
      '|---|---:|---|---|',
      ...this.ratios.map(
        (r) =>
          `| ${r.name} | ${r.value} | ${r.target} | ${r.met === undefined ? '–' : r.met ? 'yes' : 'no'} |`,
      ),
    ];
    return rows.join('\n');
  }
}

/** Three significant digits at most, whole numbers above 100. */
function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  return Math.abs(x) >= 100 ? Math.round(x) : +x.toPrecision(3);
}

/** The `p`-th percentile (0–100) of `xs`, nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}
