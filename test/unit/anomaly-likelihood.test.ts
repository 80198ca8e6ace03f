import { describe, expect, it } from 'vitest';
import { gaussianTail, LikelihoodScoring, tailScore } from '../../src/anomaly/index.js';
import { loadConfig } from '../../src/config/index.js';
import { mulberry32 } from '../../src/util/prng.js';
import { anomalyScoring } from '../../src/scoring/window-scorer.js';

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

  it('scoreHold: an alert episode lasts until the tail is back above scoreHold; only its first alert scores, the alerts are untouched', () => {
    // Calm errors, then a stretch of intermittent bursts whose level crosses the alert line again
    // and again, then calm again and one more surge.
    const errors: number[] = [];
    const rand = mulberry32(3);
    for (let i = 0; i < 2000; i++) errors.push(0.5 + rand());
    for (let i = 0; i < 300; i++) errors.push((0.5 + rand()) * (rand() < 0.3 ? 50 : 1));
    for (let i = 0; i < 1000; i++) errors.push(0.5 + rand());
    for (let i = 0; i < 20; i++) errors.push(100);
    const run = (scoreHold?: number) => {
      const s = new LikelihoodScoring({ rangeMargin: 0, ...(scoreHold ? { scoreHold } : {}) });
      const scores: number[] = [];
      const alerts: number[] = [];
      for (const e of errors) {
        scores.push(s.score({ reconstructionError: e }, undefined, { streamId: 'a' }));
        alerts.push(s.alertScoreOf('a')!);
      }
      return { scores, alerts };
    };
    const plain = run(1e-5);
    const held = run(0.1);
    expect(run()).toEqual(held); // the default
    expect(held.alerts).toEqual(plain.alerts);
    let differ = 0;
    for (const [i, x] of held.scores.entries()) {
      if (x === plain.scores[i]) continue;
      differ++;
      // Held: an alert of the plain score, reported at the after-alert level.
      expect(plain.scores[i]).toBeGreaterThanOrEqual(0.5);
      expect(x).toBeCloseTo(tailScore(1e-3), 6);
    }
    expect(differ).toBeGreaterThan(0);
    const firsts = (xs: number[]) => xs.filter((x, i) => x >= 0.5 && !(xs[i - 1]! >= 0.5)).length;
    expect(firsts(held.scores)).toBeLessThan(firsts(plain.scores));
    // The last surge, after calm windows, alerts in both.
    expect(Math.max(...held.scores.slice(-20))).toBeGreaterThanOrEqual(0.5);
  });

  it('peak corroboration: a weak one-step peak pages only when the reconstruction error jumps with it, and a corroborated one pages from a lower peak', () => {
    // Calm windows, then one probe window: its prediction error `peak` times the usual, its
    // reconstruction error `jump` times the usual. The alert score of the probe.
    const probe = (peak: number, jump: number, options: object = {}) => {
      const s = new LikelihoodScoring({ rangeMargin: 0, ...options });
      const rand = mulberry32(5);
      for (let i = 0; i < 1500; i++)
        s.score(
          { reconstructionError: 0.5 + rand(), predictionError: Math.exp(2 * rand()) },
          undefined,
          { streamId: 'a' },
        );
      const score = s.score({ reconstructionError: 1 * jump, predictionError: peak }, undefined, {
        streamId: 'a',
      });
      return { alert: s.alertScoreOf('a')!, reason: s.reasonOf('a'), score };
    };
    const off = { peakCorroboration: 0 };
    // Peak sizes whose uncorroborated alert score falls in a band, the corroboration off.
    const sizes = Array.from({ length: 400 }, (_, i) => 1.05 ** i);
    const sizeIn = (lo: number, hi: number) =>
      sizes.find((x) => {
        const { alert } = probe(x, 1, off);
        return alert >= lo && alert < hi;
      });
    // A weak peak (alert score 0.5 to 0.8): pages alone with the check off, not by default,
    // and by default when the window's reconstruction error jumps 30 times.
    const weak = sizeIn(0.55, 0.75);
    expect(weak).toBeDefined();
    expect(probe(weak!, 1, off).reason).toBe('prediction');
    expect(probe(weak!, 1).alert).toBeLessThan(0.5);
    expect(probe(weak!, 1).reason).toBeNull();
    expect(probe(weak!, 30).alert).toBeGreaterThanOrEqual(0.5);
    expect(probe(weak!, 30).reason).toBe('prediction');
    // A jump short of the factor (20) does not corroborate.
    expect(probe(weak!, 12).alert).toBeLessThan(0.5);
    // A strong peak (from 0.8) pages without corroboration.
    const strong = sizeIn(0.85, 1);
    expect(strong).toBeDefined();
    expect(probe(strong!, 1).alert).toBeGreaterThanOrEqual(0.85);
    // A peak under the alert line (its tail between 1e-5 and 1e-4 scaled) pages when corroborated.
    const low = sizeIn(0.42, 0.48);
    expect(low).toBeDefined();
    expect(probe(low!, 1).alert).toBeLessThan(0.5);
    expect(probe(low!, 30).alert).toBeGreaterThanOrEqual(0.5);
    expect(probe(low!, 30, { corroboratedTail: 1e-5 }).alert).toBeLessThan(0.5);
    // The alert only: the score (what NAB reads) is the same with the check off.
    for (const [x, jump] of [
      [weak!, 1],
      [weak!, 30],
      [low!, 30],
    ] as const)
      expect(probe(x, jump).score).toBe(probe(x, jump, off).score);
  });

  it('keeps streams apart, and alerts when a value leaves the seen range by more than the margin', () => {
    // The value range alone (a sawtooth's spread is all but constant: any change would leave its range).
    const s = new LikelihoodScoring({ spreadWindow: 0, warmup: 50 });
    for (let i = 0; i < 100; i++) s.score({}, undefined, { streamId: 'x', value: i % 10 });
    expect(s.score({}, undefined, { streamId: 'x', value: 9.4 })).toBe(0);
    expect(s.score({}, undefined, { streamId: 'x', value: 9.9 })).toBeGreaterThanOrEqual(0.5); // 9.4 + 0.47 < 9.9
    // The next window out of range continues the run of alerts: cut to the after-alert level.
    expect(s.score({}, undefined, { streamId: 'x', value: -0.6 })).toBeCloseTo(tailScore(1e-3), 6);
    expect(s.score({}, undefined, { streamId: 'x', value: 5 })).toBe(0);
    expect(s.score({}, undefined, { streamId: 'x', value: -2 })).toBeGreaterThanOrEqual(0.5); // -0.6 - 0.525 > -2
    // A new stream has no range yet, and none before `warmup` readings.
    for (let i = 0; i < 49; i++)
      expect(s.score({}, undefined, { streamId: 'y', value: i === 48 ? 1000 : i % 3 })).toBe(0);
  });

  /** A steady stream: a daily-like sine plus noise, errors like its past ones. */
  function steady(
    s: LikelihoodScoring,
    id: string,
    from: number,
    n: number,
    rand: () => number,
    reasons: (string | null)[] = [],
  ) {
    const scores: number[] = [];
    for (let i = from; i < from + n; i++) {
      const value = 10 + 3 * Math.sin((2 * Math.PI * i) / 288) + rand();
      const e = { reconstructionError: 0.01 * (0.5 + rand()), predictionError: 0.02 * rand() };
      scores.push(s.score(e, undefined, { streamId: id, value }));
      reasons.push(s.reasonOf(id));
    }
    return scores;
  }

  it('a steady stream does not alert (but for rare new records once its ranges are learnt); a level shift out of its range does, at once', () => {
    // Errors alone: no alert once warm.
    const errorsOnly = steady(
      new LikelihoodScoring({ rangeMargin: 0 }),
      'a',
      0,
      5000,
      mulberry32(3),
    );
    expect(Math.max(...errorsOnly.slice(200))).toBeLessThan(0.5);
    // With the range checks: a spread past its record by the margin is rare once a few cycles are
    // in, and none pages.
    const s = new LikelihoodScoring();
    const pages: (string | null)[] = [];
    const calm = steady(s, 'a', 0, 5000, mulberry32(3), pages);
    expect(calm.slice(1000).filter((x) => x >= 0.5).length).toBeLessThanOrEqual(2);
    expect(pages.slice(1000).filter((r) => r !== null)).toEqual([]);
    // The errors stay as before (a model that tracks the new level): the range check alone sees it.
    const shifted = 10 + 3 + 1 + 1.5;
    const e = { reconstructionError: 0.01, predictionError: 0.01 };
    expect(s.score(e, undefined, { streamId: 'a', value: shifted })).toBeGreaterThanOrEqual(0.5);
  });

  it('a stream gone flat inside its range alerts within spreadWindow readings; off when spreadWindow is 0', () => {
    for (const spreadWindow of [30, 0]) {
      const rand = mulberry32(5);
      const s = new LikelihoodScoring({ spreadWindow });
      steady(s, 'a', 0, 3000, rand);
      const e = { reconstructionError: 0.01, predictionError: 0.01 };
      const flat: number[] = [];
      for (let i = 0; i < 60; i++) flat.push(s.score(e, undefined, { streamId: 'a', value: 10 }));
      const first = flat.findIndex((x) => x >= 0.5);
      if (spreadWindow === 0) expect(first).toBe(-1);
      else {
        expect(first).toBeGreaterThanOrEqual(0);
        expect(first).toBeLessThan(spreadWindow);
        expect(flat[first]).toBeGreaterThanOrEqual(0.5);
      }
    }
  });

  it('a stuck sensor pages (spread), though its spread creeps down one small step a reading', () => {
    // A noisy reading that then repeats itself: the mean change over the last spreadWindow readings
    // falls by a thirtieth a reading, each step inside the margin of the range the last widened.
    for (const seed of [1, 2, 3]) {
      const rand = mulberry32(seed);
      const s = new LikelihoodScoring();
      const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      const e = () => ({ reconstructionError: 0.5 + rand(), predictionError: 0.5 + rand() });
      let calm = 0;
      for (let i = 0; i < 3000; i++) {
        s.score(e(), undefined, { streamId: 'a', value: 0.05 * gauss() });
        if (i >= 500 && s.reasonOf('a') !== null) calm++;
      }
      expect(calm).toBe(0);
      const stuck: (string | null)[] = [];
      for (let i = 0; i < 60; i++) {
        s.score(e(), undefined, { streamId: 'a', value: 0.02 });
        stuck.push(s.reasonOf('a'));
      }
      expect(stuck.find((r) => r !== null)).toBe('spread');
    }
    // Stuck at reading 300: the score sees it, but the alert's spreads (one spread in 30 learnt)
    // have judged too few to page before spreadWindow + 2 × warmup readings.
    const rand = mulberry32(1);
    const s = new LikelihoodScoring();
    const scores: number[] = [];
    const reasons: (string | null)[] = [];
    for (let i = 0; i < 400; i++) {
      const value = i < 300 ? 0.05 * Math.sin(i) + 0.05 * rand() : 0.02;
      scores.push(
        s.score({ reconstructionError: 0.5 + rand() }, undefined, { streamId: 'b', value }),
      );
      reasons.push(s.reasonOf('b'));
    }
    expect(Math.max(...scores.slice(300))).toBeGreaterThanOrEqual(0.5);
    expect(reasons.slice(300)).not.toContain('spread');
  });

  it("is causal: a future window cannot change a past score, nor another stream a stream's", () => {
    const run = (futureSeed: number, interleave: boolean) => {
      const s = new LikelihoodScoring();
      const past = steady(s, 'a', 0, 1000, mulberry32(9));
      if (interleave) {
        // Another stream scored in between: state is per stream.
        steady(s, 'b', 0, 500, mulberry32(11));
      }
      const future = mulberry32(futureSeed);
      const next: number[] = [];
      for (let i = 0; i < 100; i++)
        next.push(
          s.score({ reconstructionError: 10 * future() }, undefined, {
            streamId: 'a',
            value: 100 * future(),
          }),
        );
      return { past, next };
    };
    const a = run(1, false);
    const b = run(2, true);
    expect(b.past).toEqual(a.past);
    // Had the scoring been run on the past alone, its scores would be the same too.
    expect(steady(new LikelihoodScoring(), 'a', 0, 1000, mulberry32(9))).toEqual(a.past);
    // And the futures differ (the test would notice a scoring that ignored its input).
    expect(b.next).not.toEqual(a.next);
  });
});

describe('the anomaly settings', () => {
  it('reach the worker scoring: SEQAE_ANOMALY_SPREAD_WINDOW and SEQAE_ANOMALY_RANGE_MARGIN', () => {
    const defaults = anomalyScoring(loadConfig({}).worker.anomaly).anomaly as LikelihoodScoring;
    expect(defaults).toBeInstanceOf(LikelihoodScoring);
    expect(defaults.options.spreadWindow).toBe(30);
    expect(defaults.options.rangeMargin).toBe(0.05);
    expect(defaults.options.scoreHold).toBe(0.1);
    expect(defaults.options.peakCorroboration).toBe(20);
    expect(defaults.options.corroborateBelow).toBe(0.8);
    expect(defaults.options.corroboratedTail).toBe(1e-4);
    const corroboration = anomalyScoring(
      loadConfig({
        SEQAE_ALERT_PEAK_CORROBORATION: '0',
        SEQAE_ALERT_CORROBORATE_BELOW: '1.01',
        SEQAE_ALERT_CORROBORATED_TAIL: '1e-5',
      }).worker.anomaly,
    ).anomaly as LikelihoodScoring;
    expect(corroboration.options).toMatchObject({
      peakCorroboration: 0,
      corroborateBelow: 1.01,
      corroboratedTail: 1e-5,
    });
    expect(
      (
        anomalyScoring(loadConfig({ SEQAE_ANOMALY_SCORE_HOLD: '1e-5' }).worker.anomaly)
          .anomaly as LikelihoodScoring
      ).options.scoreHold,
    ).toBe(1e-5);
    const set = anomalyScoring(
      loadConfig({ SEQAE_ANOMALY_SPREAD_WINDOW: '0', SEQAE_ANOMALY_RANGE_MARGIN: '0.1' }).worker
        .anomaly,
    ).anomaly as LikelihoodScoring;
    expect(set.options.spreadWindow).toBe(0);
    expect(set.options.rangeMargin).toBe(0.1);
    expect(() => loadConfig({ SEQAE_ANOMALY_SPREAD_WINDOW: '-1' })).toThrow(
      /SEQAE_ANOMALY_SPREAD_WINDOW/,
    );
  });
});
