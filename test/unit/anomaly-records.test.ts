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

  it('an unlearnt exit leaves the range as it was: a repeated spike is as far out as the first', () => {
    for (const unlearnt of [0, 1e-3]) {
      const r = new RecordRange(0.05, 1 / 5000);
      sine.forEach((x, i) => r.judgeThenAdd(x, i >= 200));
      const first = r.judgeThenAdd(5, true, unlearnt);
      for (let i = 0; i < 500; i++) r.judgeThenAdd(sine[i]!, true, unlearnt);
      const second = r.judgeThenAdd(5, true, unlearnt);
      expect(first).toBeLessThan(1e-3);
      // Learnt, the first spike widened the range to 5: the second is no exit at all.
      if (unlearnt === 0) expect(second).toBe(1);
      else expect(second).toBeLessThan(1e-3);
    }
  });
});

describe('LikelihoodScoring: reasons, jumps and the cool-down', () => {
  const calm = (s: LikelihoodScoring, n: number, rand: () => number, from = 0) => {
    for (let i = from; i < from + n; i++)
      s.score({ reconstructionError: 0.01 * (0.5 + rand()) }, undefined, {
        streamId: 'a',
        value: Math.sin(i / 8) + 0.05 * gaussian(rand),
      });
  };

  it('names the check behind a score: range, spread, reconstruction; null when nothing fired', () => {
    const rand = mulberry32(8);
    // The value range alone first (a jump to 9 also leaves the spreads seen).
    const s = new LikelihoodScoring({ spreadWindow: 0 });
    calm(s, 2000, rand);
    const e = { reconstructionError: 0.01 };
    expect(s.score(e, undefined, { streamId: 'a', value: Math.sin(2000 / 8) })).toBeLessThan(0.5);
    expect(s.reasonOf('a')).toBeNull();
    expect(s.score(e, undefined, { streamId: 'a', value: 9 })).toBeGreaterThanOrEqual(0.5);
    expect(s.reasonOf('a')).toBe('range');
    const flat = new LikelihoodScoring();
    calm(flat, 2000, rand);
    let spread = -1;
    for (let i = 0; i < 40 && spread < 0; i++)
      if (flat.score(e, undefined, { streamId: 'a', value: 0.3 }) >= 0.5) spread = i;
    expect(spread).toBeGreaterThanOrEqual(0);
    expect(flat.reasonOf('a')).toBe('spread');
    const errorsOnly = new LikelihoodScoring({ rangeMargin: 0 });
    calm(errorsOnly, 2000, rand);
    let surge = 0;
    for (let i = 0; i < 20; i++)
      surge = Math.max(
        surge,
        errorsOnly.score({ reconstructionError: 1 }, undefined, { streamId: 'a', value: 0 }),
      );
    expect(surge).toBeGreaterThanOrEqual(0.5);
    expect(errorsOnly.reasonOf('a')).toBe('reconstruction');
    expect(errorsOnly.reasonOf('nobody')).toBeNull();
  });

  it('with jumps on, every one of repeated spikes inside the seen range alerts (reason jump)', () => {
    const run = (jumps: boolean) => {
      const rand = mulberry32(9);
      const s = new LikelihoodScoring({ jumps });
      let caught = 0;
      let i = 0;
      for (let k = 0; k < 6; k++) {
        calm(s, 400, rand, i);
        i += 400;
        // The first spike widens the value range to ±5: the later ones stay inside it.
        const v = k % 2 === 0 ? 5 : -5;
        const score = s.score({ reconstructionError: 0.01 }, undefined, {
          streamId: 'a',
          value: v,
        });
        if (score >= 0.5 && k >= 2) {
          caught++;
          expect(s.reasonOf('a')).toBe('jump');
        }
      }
      return caught;
    };
    expect(run(true)).toBe(4);
    expect(run(false)).toBeLessThan(4);
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
});
