import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The benchmark's files on disk: `data/<category>/<file>.csv` (`timestamp,value`) and
 * `labels/combined_windows.json`; a results directory in its layout,
 * `<detector>/<category>/<detector>_<file>.csv` with `timestamp,value,anomaly_score,label`.
 */

/** One data file: every row, in file order (repeated and backward timestamps kept). */
export interface NabFile {
  /** `category/file.csv`, the key of the labels. */
  name: string;
  category: string;
  /** Where it was read from (a producer replays it from there). */
  path?: string;
  timestamps: number[];
  /** The timestamps as written in the file. */
  stamps: string[];
  values: number[];
  /** Labelled windows as `[start, end]` timestamps (ms). */
  windows: [number, number][];
}

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) to milliseconds since the epoch. */
export function parseTimestamp(text: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a benchmark timestamp: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  return Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, ms);
}

/** The rows of a CSV with a header (LF or CRLF line ends), as arrays of cells; blank lines skipped. */
export function csvRows(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const [head = '', ...rest] = lines;
  return { header: head.split(','), rows: rest.map((l) => l.split(',')) };
}

/** Windows per file name from `combined_windows.json`. */
export async function readWindows(path: string): Promise<Map<string, [number, number][]>> {
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, [string, string][]>;
  return new Map(
    Object.entries(json).map(([name, ws]) => [
      name,
      ws.map(([a, b]) => [parseTimestamp(a), parseTimestamp(b)] as [number, number]),
    ]),
  );
}

/** The sorted names in `dir` whose entries pass `keep`. */
async function entries(dir: string, keep: (e: Dirent) => boolean): Promise<string[]> {
  const all = await readdir(dir, { withFileTypes: true });
  return all
    .filter(keep)
    .map((e) => e.name)
    .sort();
}

/**
 * The data files under `dir/data` that have labels, sorted by name. Only folders of `data/` are
 * categories: a clone of numenta/NAB has a README.md there too.
 */
export async function readCorpus(dir: string): Promise<NabFile[]> {
  const windows = await readWindows(join(dir, 'labels', 'combined_windows.json'));
  const files: NabFile[] = [];
  for (const category of await entries(join(dir, 'data'), (e) => e.isDirectory())) {
    const csvs = await entries(join(dir, 'data', category), (e) => e.isFile());
    for (const file of csvs) {
      const name = `${category}/${file}`;
      if (!file.endsWith('.csv') || !windows.has(name)) continue;
      const path = join(dir, 'data', category, file);
      const { header, rows } = csvRows(await readFile(path, 'utf8'));
      const ti = header.indexOf('timestamp');
      const vi = header.indexOf('value');
      if (ti < 0 || vi < 0) throw new Error(`${name}: no timestamp and value columns`);
      const stamps = rows.map((r) => r[ti]!.trim());
      files.push({
        name,
        category,
        path,
        stamps,
        timestamps: stamps.map(parseTimestamp),
        values: rows.map((r) => Number(r[vi])),
        windows: windows.get(name)!,
      });
    }
  }
  return files;
}

/** The path of a file's results: `<detector>/<category>/<detector>_<file>`. */
export function resultsPath(detector: string, name: string): string {
  const [category, file] = name.split('/') as [string, string];
  return join(detector, category, `${detector}_${file}`);
}

/** Whether a timestamp lies in one of the windows (the results' `label` column). */
export function inWindow(t: number, windows: readonly (readonly [number, number])[]): boolean {
  return windows.some(([a, b]) => t >= a && t <= b);
}

/** A results file's text: `timestamp,value,anomaly_score,label`, one row per data row. */
export function resultsCsv(file: NabFile, scores: ArrayLike<number>): string {
  const lines = ['timestamp,value,anomaly_score,label'];
  for (let i = 0; i < file.stamps.length; i++) {
    const label = inWindow(file.timestamps[i]!, file.windows) ? 1 : 0;
    lines.push(`${file.stamps[i]},${file.values[i]},${scores[i]},${label}`);
  }
  return lines.join('\n') + '\n';
}

/** A results file's timestamps and scores. */
export async function readResults(
  path: string,
): Promise<{ timestamps: number[]; scores: number[] }> {
  const { header, rows } = csvRows(await readFile(path, 'utf8'));
  const ti = header.indexOf('timestamp');
  const si = header.indexOf('anomaly_score');
  if (ti < 0 || si < 0) throw new Error(`${path}: no timestamp and anomaly_score columns`);
  return {
    timestamps: rows.map((r) => parseTimestamp(r[ti]!)),
    scores: rows.map((r) => Number(r[si])),
  };
}

/** A detector's results under `resultsDir` for every labelled file, ready for the scorer. */
export async function readDetectorResults(
  resultsDir: string,
  detector: string,
  windows: Map<string, [number, number][]>,
): Promise<
  { name: string; timestamps: number[]; scores: number[]; windows: [number, number][] }[]
> {
  const files = [];
  for (const [name, ws] of [...windows].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const r = await readResults(join(resultsDir, resultsPath(detector, name)));
    files.push({ name, ...r, windows: ws });
  }
  return files;
}
