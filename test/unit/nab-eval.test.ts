import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Detector } from '../../src/eval/detector.js';
import { DETECTORS } from '../../src/eval/detectors/index.js';
import {
  csvRows,
  readCorpus,
  readDetectorResults,
  readWindows,
} from '../../src/eval/nab/corpus.js';
import { evaluateNab } from '../../src/eval/nab/evaluate.js';
import { PROFILE_NAMES, scoreCorpus } from '../../src/eval/nab/scorer.js';

const root = join(import.meta.dirname, '..', '..');
const corpusDir = join(root, 'test', 'fixtures', 'nab', 'corpus');
const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'seqae-nab-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('seqae eval nab (in-process)', () => {
  it('writes one score per row in the results layout, and a summary the scorer reproduces', async () => {
    const out = await tempDir();
    const files = await readCorpus(corpusDir);
    const detector = await DETECTORS['window-mean']!();
    const summary = await evaluateNab(files, detector, out);
    for (const f of files) {
      const [category, file] = f.name.split('/');
      const text = await readFile(
        join(out, 'window-mean', category!, `window-mean_${file}`),
        'utf8',
      );
      const { header, rows } = csvRows(text);
      expect(header).toEqual(['timestamp', 'value', 'anomaly_score', 'label']);
      // Every row, CRLF file and backward timestamps included, gets a score in [0, 1].
      expect(rows).toHaveLength(f.values.length);
      expect(rows.every((r) => +r[2]! >= 0 && +r[2]! <= 1)).toBe(true);
      const inside = rows.filter((r) => r[3] === '1').map((r) => r[0]);
      expect(inside[0]).toBe(f.stamps[f.timestamps.indexOf(f.windows[0]![0])]);
      expect(rows.some((r) => r[3] === '0')).toBe(true);
    }
    // The benchmark's reader scores the written files to the summary's numbers.
    const windows = await readWindows(join(corpusDir, 'labels', 'combined_windows.json'));
    const present = new Map([...windows].filter(([n]) => files.some((f) => f.name === n)));
    const again = scoreCorpus(await readDetectorResults(out, 'window-mean', present));
    for (const p of PROFILE_NAMES) {
      expect(summary[p].score).toBeCloseTo(again[p].normalised, 2);
      expect(Object.keys(summary[p].categories).sort()).toEqual(['realKnownCause', 'realTraffic']);
    }
    const written = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(written.standard.score).toBe(summary.standard.score);
  });

  it('feeds a detector the readings one by one, each scored before the next is shown', async () => {
    const seen: number[] = [];
    const probe: Detector = {
      name: 'probe',
      async open(info) {
        expect(info.probation).toBe(Math.min(Math.floor(0.15 * info.length), 750));
        seen.length = 0;
        return {
          next: async (v) => {
            seen.push(v);
            return seen.length / info.length;
          },
        };
      },
    };
    const files = await readCorpus(corpusDir);
    const out = await tempDir();
    await evaluateNab(files.slice(0, 1), probe, out);
    expect(seen).toEqual(files[0]!.values);
  });

  it('reads a clone of numenta/NAB: skips data/README.md and what is not a CSV file', async () => {
    // The real repository has data/README.md beside the category folders (ENOTDIR before).
    const clone = await tempDir();
    await cp(corpusDir, clone, { recursive: true });
    await writeFile(join(clone, 'data', 'README.md'), '# NAB data\n');
    await writeFile(join(clone, 'data', 'realTraffic', 'notes.txt'), 'not data\n');
    await mkdir(join(clone, 'data', 'realTraffic', 'old.csv'));
    const names = (files: { name: string }[]) => files.map((f) => f.name);
    expect(names(await readCorpus(clone))).toEqual(names(await readCorpus(corpusDir)));
    expect((await readCorpus(clone)).length).toBeGreaterThan(0);
  });

  it('runs from the command line and prints the three profile scores', async () => {
    const out = await tempDir();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(root, 'bin', 'seqae.js'),
        'eval',
        'nab',
        '--data',
        corpusDir,
        '--out',
        out,
        '--detector',
        'window-mean',
      ],
      { cwd: root },
    );
    for (const p of PROFILE_NAMES)
      expect(stdout).toMatch(new RegExp(`^${p}: -?\\d+\\.\\d\\d$`, 'm'));
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(summary.detector).toBe('window-mean');
  });
});
