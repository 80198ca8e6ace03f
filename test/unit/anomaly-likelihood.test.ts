import { describe, expect, it } from 'vitest';
import { gaussianTail, LikelihoodScoring, tailScore } from '../../src/anomaly/index.js';
import { mulberry32 } from '../../src/util/prng.js';

describe('LikelihoodScoring: per-stream calibrated anomaly likelihood', () => {
  it('gaussianTail and tailScore', () => {
    expect(gaussianTail(0)).toBeCloseTo(0.5, 6);
    expect(gaussianTail(1.959964)).toBeCloseTo(0.025, 5);
    expect(gaussianTail(-1.959964)).toBeCloseTo(0.975, 5);
    expect(tailScore(1e-5)).toBeCloseTo(0.5, 3);
    expect(tailScore(1)).toBe(0);
  });

  it('stays low on errors like the past, alerts on a surge, and cuts a run of alerts to its first', () => {
    const rand = mulberry32(7);
    // Two streams of very different error scales score alike: ranks are per stream.
    const scorings = [1e-4, 10].map((scale) => {
      const s = new LikelihoodScoring({ rangeMargin: 0 });
      const calm: number[] = [];
      for (let i = 0; i < 2000; i++)
        calm.push(
          s.score({ reconstructionError: scale * (0.5 + rand()) }, undefined, { streamId: 'a' }),
        );
      const surge: number[] = [];
      for (let i = 0; i < 20; i++)
        surge.push(s.score({ reconstructionError: scale * 100 }, undefined, { streamId: 'a' }));
      return { calm: calm.slice(100), surge };
    });
    for (const { calm, surge } of scorings) {
      expect(Math.max(...calm)).toBeLessThan(0.5);
      const first = surge.findIndex((x) => x >= 0.5);
      expect(first).toBeGreaterThanOrEqual(0);
      // After the first alert, the run reports the milder after-alert level.
      expect(surge[first + 1]).toBeCloseTo(tailScore(1e-3), 6);
    }
  });

  it('keeps streams apart, and scores 1 when a value leaves the seen range by more than the margin', () => {
    const s = new LikelihoodScoring();
    for (let i = 0; i < 100; i++) s.score({}, undefined, { streamId: 'x', value: i % 10 });
    expect(s.score({}, undefined, { streamId: 'x', value: 9.4 })).toBe(0);
    expect(s.score({}, undefined, { streamId: 'x', value: 9.9 })).toBe(1); // 9.4 + 0.47 < 9.9
    expect(s.score({}, undefined, { streamId: 'x', value: -0.6 })).toBe(1);
    // A new stream has no range yet.
    expect(s.score({}, undefined, { streamId: 'y', value: 1000 })).toBe(0);
    expect(s.score({}, undefined, { streamId: 'y', value: 1000 })).toBe(0);
  });
});
