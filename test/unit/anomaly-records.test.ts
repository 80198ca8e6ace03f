import { describe, expect, it } from 'vitest';
import { LikelihoodScoring, tailScore } from '../../src/anomaly/index.js';
import { RecordRange } from '../../src/anomaly/records.js';
import { mulberry32 } from '../../src/util/prng.js';

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Exits of `series` whose chance under the record history is at most `tail` (after 200 readings). */
function alerts(series: number[], tail: number): number[] {
  const r = new RecordRange(0.05, 1 / 5000);
  const out: number[] = [];
  series.forEach((x, i) => {
    if (r.judgeThenAdd(x, i >= 200) <= tail) out.push(i);
  });
  return out;
}

describe('RecordRange: range exits judged by how often and how far a stream sets records', () => {
  const rand = mulberry32(4);
  const walk: number[] = [];
  let w = 0;
  for (let i = 0; i < 5000; i++) walk.push((w = 0.98 * w + gaussian(rand) / Math.sqrt(50)));
  const sine = Array.from({ length: 5000 }, (_, i) => Math.sin(i / 8) + 0.05 * gaussian(rand));

  it("a random walk's new highs are ordinary; a spike far past them is not", () => {
    // Every exit past the 5% margin (the old rule, chance 1) against those improbable under its history.
    const all = alerts(walk, 1).length;
    const rare = alerts(walk, 1e-3).length;
    expect(all).toBeGreaterThan(5);
    expect(rare).toBeLessThanOrEqual(1);
    const spiked = [...walk, walk.at(-1)! + 4];
    expect(alerts(spiked, 1e-3)).toContain(5000);
  });

  it("a sine's first exit, even a small one, alerts once its cycle is known", () => {
    const r = new RecordRange(0.05, 1 / 5000);
    sine.forEach((x, i) => r.judgeThenAdd(x, i >= 200));
    expect(r.judgeThenAdd(1.4, true)).toBeLessThan(1e-3);
  });
});

describe('RecordRange with a stride: a quantity over overlapping spans', () => {
  /** The mean absolute change over the last 30 readings of noise that sticks at reading 3000. */
  const spreads = (seed: number) => {
    const rand = mulberry32(seed);
    const x: number[] = [];
    for (let i = 0; i < 3060; i++) x.push(i < 3000 ? 0.05 * gaussian(rand) : x[2999]!);
    const out: number[] = [];
    for (let i = 30; i < x.length; i++) {
      let sum = 0;
      for (let k = i - 29; k <= i; k++) sum += Math.abs(x[k]! - x[k - 1]!);
      out.push(sum / 30);
    }
    return out;
  };
  const lowest = (r: RecordRange, series: number[], keepOut = 0) => {
    let min = 1;
    series.forEach((x, i) => {
      const q = r.judgeThenAdd(x, i >= 200, keepOut);
      if (i >= 2970) min = Math.min(min, q);
    });
    return min;
  };

  it('a spread creeping to 0 is judged against the range before it crept, and so found improbable', () => {
    for (const seed of [1, 2, 3]) {
      const series = spreads(seed);
      // Learning every value, each step of the creep is inside the margin of the last (or just
      // past it): never improbable enough to page (1e-4).
      expect(lowest(new RecordRange(0.05, 1 / 5000), series)).toBeGreaterThan(1e-4);
      // The range 30 values late and the history every 30th: far past the range.
      expect(lowest(new RecordRange(0.05, 30 / 5000, 1, 30), series, 0.1)).toBeLessThan(1e-4);
    }
  });

  it('the range takes a value in once stride - 1 more have come (those it overlaps)', () => {
    const r = new RecordRange(0.05, 1 / 5000, 1, 3);
    for (const x of [0, 1, 0, 1, 0, 1]) r.judgeThenAdd(x, false);
    expect(r.chanceOf(0.5)).toBe(1);
    expect(r.chanceOf(5)).toBeLessThan(1);
    for (const x of [5, 0.5]) r.judgeThenAdd(x, true);
    // 5 is not in the range yet: the range still judges 5 as past it.
    expect(r.chanceOf(5)).toBeLessThan(1);
    r.judgeThenAdd(0.5, true);
    expect(r.chanceOf(5)).toBe(1);
  });
});

describe('LikelihoodScoring: reasons, the alert and the cool-down', () => {
  const calm = (s: LikelihoodScoring, n: number, rand: () => number, from = 0) => {
    for (let i = from; i < from + n; i++)
      s.score({ reconstructionError: 0.01 * (0.5 + rand()) }, undefined, {
        streamId: 'a',
        value: Math.sin(i / 8) + 0.05 * gaussian(rand),
      });
  };

  it('names the check behind an alert: range, spread, reconstruction; null when nothing fired', () => {
    const rand = mulberry32(8);
    // The value range alone first (a jump to 9 also leaves the spreads seen).
    const s = new LikelihoodScoring({ spreadWindow: 0, peakWindow: 0 });
    calm(s, 2000, rand);
    const e = { reconstructionError: 0.01 };
    expect(s.score(e, undefined, { streamId: 'a', value: Math.sin(2000 / 8) })).toBeLessThan(0.5);
    expect(s.reasonOf('a')).toBeNull();
    expect(s.score(e, undefined, { streamId: 'a', value: 9 })).toBeGreaterThanOrEqual(0.5);
    expect(s.alertScoreOf('a')).toBeGreaterThanOrEqual(0.5);
    expect(s.reasonOf('a')).toBe('range');
    const flat = new LikelihoodScoring({ peakWindow: 0 });
    calm(flat, 2000, rand);
    let spread = -1;
    for (let i = 0; i < 40 && spread < 0; i++) {
      flat.score(e, undefined, { streamId: 'a', value: 0.3 });
      if (flat.alertScoreOf('a')! >= 0.5) spread = i;
    }
    expect(spread).toBeGreaterThanOrEqual(0);
    expect(flat.reasonOf('a')).toBe('spread');
    const errorsOnly = new LikelihoodScoring({ rangeMargin: 0, peakWindow: 0 });
    calm(errorsOnly, 2000, rand);
    let surge = 0;
    for (let i = 0; i < 20 && surge < 0.5; i++) {
      errorsOnly.score({ reconstructionError: 1 }, undefined, { streamId: 'a', value: 0 });
      surge = errorsOnly.alertScoreOf('a')!;
    }
    expect(surge).toBeGreaterThanOrEqual(0.5);
    expect(errorsOnly.reasonOf('a')).toBe('reconstruction');
    expect(errorsOnly.reasonOf('nobody')).toBeNull();
  });

  it("a noisy stream's new highs raise the score far more often than they alert; a level shift does both", () => {
    const e = (rand: () => number) => ({ reconstructionError: 0.01 * (0.5 + rand()) });
    let scored = 0;
    let alerts = 0;
    for (const seed of [11, 12, 13]) {
      const rand = mulberry32(seed);
      const s = new LikelihoodScoring({ peakWindow: 0 });
      for (let i = 0; i < 20_000; i++) {
        const v = 0.05 * gaussian(rand);
        if (s.score(e(rand), undefined, { streamId: 'n', value: v }) >= 0.5) scored++;
        if (s.alertScoreOf('n')! >= 0.5) alerts++;
      }
      // A shift to ten times its readings' standard deviation pages at once.
      expect(s.score(e(rand), undefined, { streamId: 'n', value: 0.5 })).toBeGreaterThanOrEqual(
        0.5,
      );
      expect(s.alertScoreOf('n')).toBeGreaterThanOrEqual(0.5);
      expect(s.reasonOf('n')).toBe('range');
    }
    // Its records rank (the score NAB measures); fewer than half of them page anyone.
    expect(scored).toBeGreaterThanOrEqual(15);
    expect(alerts * 2).toBeLessThan(scored);
  });

  it("a spike in a fresh stream alerts before the score's warm-up; its first records do not", () => {
    const rand = mulberry32(13);
    const s = new LikelihoodScoring();
    let early = 0;
    // 150 readings of a sine: inside SEQAE_ANOMALY_WARMUP (200), past SEQAE_ALERT_WARMUP (50).
    for (let i = 0; i < 150; i++) {
      const v = Math.sin(i / 8) + 0.05 * gaussian(rand);
      expect(s.score({ reconstructionError: 0.01 }, undefined, { streamId: 'f', value: v })).toBe(
        0,
      );
      if (s.alertScoreOf('f')! >= 0.5) early++;
    }
    expect(early).toBe(0);
    expect(s.score({ reconstructionError: 0.01 }, undefined, { streamId: 'f', value: 5 })).toBe(0);
    expect(s.alertScoreOf('f')).toBeGreaterThanOrEqual(0.5);
    expect(s.reasonOf('f')).toBe('range');
  });

  it('the peak check alerts on every one of repeated forecast spikes inside the seen range (reason prediction)', () => {
    const run = (peakWindow: number) => {
      const rand = mulberry32(9);
      const s = new LikelihoodScoring({ peakWindow });
      let caught = 0;
      for (let k = 0, i = 0; k < 6; k++) {
        // Calm windows: the one-step error of a model that follows the stream, noise around 1e-3;
        // spikes at random times (spikes on a schedule are routine: recurrence.ts).
        for (const end = i + 300 + Math.floor(rand() * 200); i < end; i++)
          s.score(
            {
              reconstructionError: 0.01 * (0.5 + rand()),
              predictionError: 1e-3 * gaussian(rand) ** 2,
            },
            undefined,
            { streamId: 'a', value: Math.sin(i / 8) + 0.05 * gaussian(rand) },
          );
        // A spike in the forecast error at a reading inside the range: the range checks cannot see it.
        s.score({ reconstructionError: 0.01, predictionError: 25 }, undefined, {
          streamId: 'a',
          value: k % 2 === 0 ? 0.9 : -0.9,
        });
        if (k >= 2 && s.alertScoreOf('a')! >= 0.5) {
          caught++;
          expect(s.reasonOf('a')).toBe('prediction');
        }
      }
      return caught;
    };
    expect(run(32)).toBe(4);
    expect(run(0)).toBe(0);
  });

  it("a spike stays out of the alert's value range, so the next spike pages as the first; a level that stays is the new range", () => {
    const rand = mulberry32(9);
    const s = new LikelihoodScoring({ peakWindow: 0, spreadWindow: 0 });
    const e = { reconstructionError: 0.01 };
    const reasons: (string | null)[] = [];
    let i = 0;
    const calm = (n: number, level = 0) => {
      for (const end = i + n; i < end; i++) {
        s.score(e, undefined, {
          streamId: 'a',
          value: level + Math.sin(i / 8) + 0.05 * gaussian(rand),
        });
        reasons.push(s.reasonOf('a'));
      }
    };
    calm(1000);
    const spikes: (string | null)[] = [];
    for (let k = 0; k < 4; k++) {
      s.score(e, undefined, { streamId: 'a', value: k % 2 === 0 ? 5 : -5 });
      spikes.push(s.reasonOf('a'));
      calm(60 + Math.floor(rand() * 80));
    }
    expect(spikes).toEqual(['range', 'range', 'range', 'range']);
    // A level shift by 10: its first reading pages, the level it stays at does not page again.
    reasons.length = 0;
    calm(300, 10);
    expect(reasons[0]).toBe('range');
    expect(reasons.slice(2).filter((r) => r !== null)).toEqual([]);
  });

  it('the peak check adds no alert for errors that grow over several windows (a model leaving its range)', () => {
    const ramp = (peakWindow: number) => {
      const rand = mulberry32(12);
      const s = new LikelihoodScoring({ rangeMargin: 0, peakWindow });
      const error = () => 1e-3 * gaussian(rand) ** 2;
      for (let i = 0; i < 1000; i++)
        s.score({ reconstructionError: 0.01, predictionError: error() }, undefined, {
          streamId: 'g',
        });
      // The error doubles each window, from the calm level to 1000 times it: the error level's
      // check alerts on it; a peak check that judged each window against the last would too.
      const alerts: number[] = [];
      for (let e = 1e-3; e < 1; e *= 2) {
        s.score({ reconstructionError: 0.01, predictionError: e }, undefined, { streamId: 'g' });
        alerts.push(s.alertScoreOf('g')!);
      }
      return alerts;
    };
    const withPeaks = ramp(32);
    expect(withPeaks.some((a) => a >= 0.5)).toBe(true);
    expect(withPeaks).toEqual(ramp(0));
  });

  it("a new model version starts its errors' history afresh and keeps the stream's ranges", () => {
    const run = (changed: boolean) => {
      const rand = mulberry32(14);
      const s = new LikelihoodScoring({ peakWindow: 0 });
      calm(s, 2000, rand);
      if (changed) s.modelChanged('a');
      // The new model's errors are a hundred times the old one's, and steady.
      let alerts = 0;
      for (let i = 2000; i < 2600; i++) {
        s.score({ reconstructionError: 1 * (0.5 + rand()) }, undefined, {
          streamId: 'a',
          value: Math.sin(i / 8) + 0.05 * gaussian(rand),
        });
        if (s.alertScoreOf('a')! >= 0.5) alerts++;
      }
      // The ranges are the stream's, not the model's: a reading far past them still alerts.
      s.score({ reconstructionError: 1 }, undefined, { streamId: 'a', value: 6 });
      return { alerts, range: s.reasonOf('a') };
    };
    expect(run(false).alerts).toBeGreaterThan(0);
    expect(run(true)).toEqual({ alerts: 0, range: 'range' });
  });

  it('the cool-down reports a second alert within it at the after-alert level', () => {
    for (const coolDown of [1, 300]) {
      const rand = mulberry32(10);
      const s = new LikelihoodScoring({ coolDown, spreadWindow: 0 });
      calm(s, 2000, rand);
      const e = { reconstructionError: 0.01 };
      expect(s.score(e, undefined, { streamId: 'a', value: 6 })).toBeGreaterThanOrEqual(0.5);
      calm(s, 100, rand, 2001);
      const second = s.score(e, undefined, { streamId: 'a', value: -6 });
      if (coolDown === 1) expect(second).toBeGreaterThanOrEqual(0.5);
      else expect(second).toBeCloseTo(tailScore(1e-3), 6);
    }
  });

  it("a second spike inside the run of alerts the first left (spreads, the errors' level) pages too", () => {
    const rand = mulberry32(1);
    const s = new LikelihoodScoring();
    const pages: number[] = [];
    const peaks: number[] = [];
    for (let i = 0; i < 3040; i++) {
      const spike = i === 3000 || i === 3015 ? 4 : 0;
      const value = Math.sin(i / 8) + 0.05 * gaussian(rand) + spike;
      // The spikes' windows reconstruct badly for as long as they hold a spike.
      const reconstructionError = i >= 3000 && i < 3031 ? 50 : 0.5 + rand();
      const predictionError = spike ? 100 : Math.exp(0.5 * gaussian(rand));
      s.score({ reconstructionError, predictionError }, undefined, { streamId: 'a', value });
      if (s.reasonOf('a') !== null) pages.push(i);
      if (s.alertScoreOf('a')! >= 0.5) peaks.push(i);
    }
    // Every window from the first spike on is an alert of some check: one run.
    expect(pages.filter((i) => i >= 3000 && i <= 3020)).toHaveLength(21);
    // Reported at full severity: the run's first window, and the second spike's.
    expect(peaks).toEqual([3000, 3015]);
  });
});
