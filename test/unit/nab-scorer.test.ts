import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  csvRows,
  parseTimestamp,
  readCorpus,
  readDetectorResults,
  readWindows,
} from '../../src/eval/nab/corpus.js';
import {
  PROFILES,
  PROFILE_NAMES,
  probationLength,
  rowWorths,
  scoreAtThreshold,
  scoreCorpus,
  type ScoredFile,
} from '../../src/eval/nab/scorer.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'nab');
const MINUTE = 60_000;

/**
 * A file worked out on paper: 100 rows a minute apart, probation 15 rows, one window over rows
 * 40..49 (width 10, right edge 49). `detections` are the rows that score 1, all others score 0.
 */
function paperFile(detections: number[]): ScoredFile {
  const scores = new Array<number>(100).fill(0);
  for (const i of detections) scores[i] = 1;
  return {
    name: 'paper/one-window.csv',
    timestamps: Array.from({ length: 100 }, (_, i) => i * MINUTE),
    scores,
    windows: [[40 * MINUTE, 49 * MINUTE]],
  };
}

const standardAtOne = (detections: number[]) =>
  scoreAtThreshold(rowWorths(paperFile(detections)), PROFILES.standard, 1).score;

describe('NAB scorer on cases worked out on paper', () => {
  it('probation is min(floor(0.15 n), 750) rows, and they are not scored', () => {
    expect(probationLength(100)).toBe(15);
    expect(probationLength(1127)).toBe(169);
    expect(probationLength(22695)).toBe(750);
    expect(rowWorths(paperFile([]))).toHaveLength(85);
    // A detection in probation costs nothing.
    expect(standardAtOne([3])).toBe(-1);
  });

  it('no detection at all: the window is missed, -fnWeight', () => {
    expect(standardAtOne([])).toBe(-1);
    expect(scoreAtThreshold(rowWorths(paperFile([])), PROFILES.reward_low_FN_rate, 1).score).toBe(
      -2,
    );
  });

  it("an early detection on the window's first row is worth the whole tpWeight", () => {
    // position -(49 - 40 + 1) / 10 = -1, S(-1) / S(-1) = 1
    expect(standardAtOne([40])).toBeCloseTo(1, 12);
  });

  it('a late detection on the right edge is worth S(-0.1) / S(-1) = 0.24824', () => {
    // position -(49 - 49 + 1) / 10 = -0.1; S(-0.1) = tanh(0.25) = 0.244919, S(-1) = 0.986614
    expect(standardAtOne([49])).toBeCloseTo(0.2482415, 6);
    // Only the best detection of a window counts: the middle one (position -0.5) beats the late one.
    expect(standardAtOne([45, 49])).toBeCloseTo(0.8597926, 6);
  });

  it('a false positive just after the window costs fpWeight × S(1/9)', () => {
    // |49 - 50| / (10 - 1) = 1/9, S(1/9) = -tanh(5/18) = -0.270847; the window is missed too
    expect(standardAtOne([50])).toBeCloseTo(-1 - 0.11 * 0.2708471, 6);
    expect(
      scoreAtThreshold(rowWorths(paperFile([50])), PROFILES.reward_low_FP_rate, 1).score,
    ).toBeCloseTo(-1 - 0.22 * 0.2708471, 6);
    // Far past the window (distance ≥ 3 widths) and before any window, a full -fpWeight.
    expect(standardAtOne([90])).toBeCloseTo(-1.11, 12);
    expect(standardAtOne([20])).toBeCloseTo(-1.11, 12);
  });

  it('a null detector scores 0 and a perfect one 100 on every profile', () => {
    const nul = scoreCorpus([paperFile([])]);
    const perfect = scoreCorpus([paperFile([40])]);
    for (const p of PROFILE_NAMES) {
      expect(nul[p].normalised).toBe(0);
      expect(perfect[p].normalised).toBeCloseTo(100, 10);
    }
  });

  it('sweeps every distinct score as the corpus threshold and keeps the best', () => {
    // 0.9 on the window's first row, 0.95 on a row long after it: a threshold of 0.95 pays a false
    // positive and misses the window, 0.9 catches the window and pays the false positive too,
    // 1.1 (never) only misses the window; the best is 0.9 (1 - 0.11).
    const file = paperFile([]);
    const scores = Array.from(file.scores);
    scores[40] = 0.9;
    scores[95] = 0.95;
    const result = scoreCorpus([{ ...file, scores }]);
    expect(result.standard.threshold).toBe(0.9);
    expect(result.standard.raw).toBeCloseTo(0.89, 12);
    expect(result.standard.normalised).toBeCloseTo(94.5, 10);
    expect(result.standard.categories.paper!.normalised).toBeCloseTo(94.5, 10);
  });
});

describe('NAB scorer against the official per-file results (numenta HTM, 3 files)', () => {
  it('gives the official raw score and counts of each file at the official threshold', async () => {
    const windows = await readWindows(join(fixtures, 'corpus', 'labels', 'combined_windows.json'));
    const files = await readDetectorResults(fixtures, 'numenta', windows);
    expect(files).toHaveLength(3);
    let checked = 0;
    for (const profile of PROFILE_NAMES) {
      const official = csvRows(
        await readFile(join(fixtures, 'numenta', `numenta_${profile}_scores.csv`), 'utf8'),
      ).rows;
      for (const [, , name, threshold, score, tp, tn, fp, fn] of official) {
        const file = files.find((f) => f.name === name)!;
        const ours = scoreAtThreshold(rowWorths(file), PROFILES[profile], Number(threshold));
        expect(ours.score, `${profile} ${name}`).toBeCloseTo(Number(score), 9);
        expect([ours.tp, ours.tn, ours.fp, ours.fn]).toEqual([tp, tn, fp, fn].map(Number));
        checked++;
      }
    }
    expect(checked).toBe(9);
  });

  it('reads CRLF data and keeps rows with repeated or backward timestamps', async () => {
    const corpus = await readCorpus(join(fixtures, 'corpus'));
    const byName = new Map(corpus.map((f) => [f.name, f]));
    const hold = byName.get('realKnownCause/rogue_agent_key_hold.csv')!;
    expect(hold.timestamps).toHaveLength(1882);
    expect(hold.values.every(Number.isFinite)).toBe(true);
    const t4013 = byName.get('realTraffic/speed_t4013.csv')!;
    expect(t4013.timestamps).toHaveLength(2495);
    expect(t4013.timestamps.some((t, i) => i > 0 && t <= t4013.timestamps[i - 1]!)).toBe(true);
    expect(parseTimestamp('2015-09-16 00:44:00.000000')).toBe(
      parseTimestamp('2015-09-16 00:44:00'),
    );
  });
});
