import { describe, expect, it } from 'vitest';
import { LikelihoodScoring } from '../../src/anomaly/index.js';
import { Recurrence } from '../../src/anomaly/recurrence.js';
import { gaussian, mulberry32 } from '../../src/util/prng.js';

describe('Recurrence: events on a schedule', () => {
  it('an event is routine once `count` earlier ones lie on its grid, within the jitter', () => {
    const r = new Recurrence(3, 0.02, 20);
    // A daily job (288 windows a day) that drifts by a few windows.
    const starts = [100, 390, 675, 965];
    expect(r.recurs(starts[0]!)).toBe(false);
    for (const [i, t] of starts.entries()) {
      expect(r.recurs(t)).toBe(i >= 3);
      r.add(t);
    }
    // Off the grid by more than 2% of the period: news.
    expect(r.recurs(965 + 288 + 12)).toBe(false);
    expect(r.recurs(965 + 288 + 4)).toBe(true);
  });

  it('does not take events at random times, a run of windows, or count 0 for a schedule', () => {
    const r = new Recurrence(3, 0.02, 20);
    for (const t of [120, 610, 1340, 1490, 2200, 2630]) {
      expect(r.recurs(t)).toBe(false);
      r.add(t);
    }
    const run = new Recurrence(3, 0.02, 20);
    for (const t of [500, 501, 502, 503]) run.add(t);
    expect(run.recurs(504)).toBe(false);
    const off = new Recurrence(0, 0.02, 20);
    for (const t of [100, 200, 300]) off.add(t);
    expect(off.recurs(400)).toBe(false);
  });
});

describe('LikelihoodScoring: routine events', () => {
  /** A sine stream with a forecast spike at each of `at`: which of the spikes page. */
  const spikes = (at: number[], options: { recurrences?: number } = {}) => {
    const rand = mulberry32(5);
    const s = new LikelihoodScoring(options);
    const paged: boolean[] = [];
    const routine: boolean[] = [];
    const end = at.at(-1)! + 50;
    for (let i = 0; i < end; i++) {
      const spike = at.includes(i);
      s.score(
        {
          reconstructionError: spike ? 0.5 : 0.01 * (0.5 + rand()),
          predictionError: spike ? 25 : 1e-3 * gaussian(rand) ** 2,
        },
        undefined,
        { streamId: 'a', value: Math.sin(i / 8) + 0.05 * gaussian(rand) },
      );
      if (spike) paged.push(s.alertScoreOf('a')! >= 0.5);
      if (spike) routine.push(s.routineOf('a'));
      else expect(s.routineOf('a')).toBe(false);
    }
    // A spike is either paged or routine (what the worker marks `suppressed: 'routine'`).
    expect(routine).toEqual(paged.map((p) => !p));
    return paged;
  };

  it('a daily spike pages its first three times, then no more; the same spikes at random times page every time', () => {
    const daily = [600, 890, 1175, 1465, 1750, 2040, 2330, 2615];
    expect(spikes(daily)).toEqual([true, true, true, false, false, false, false, false]);
    expect(spikes(daily, { recurrences: 0 })).toEqual(daily.map(() => true));
    const random = [600, 1010, 1190, 1630, 2050, 2210, 2690, 3020];
    expect(spikes(random)).toEqual(random.map(() => true));
  });
});
