import { describe, expect, it } from 'vitest';
import { forecastError } from '../../src/anomaly/index.js';
import { featureErrors, forecastFeatureErrors, mean } from '../../src/scoring/feature-errors.js';

describe('per-feature errors', () => {
  it('forecast terms are the squared scaled errors whose mean is forecastError', () => {
    const terms = forecastFeatureErrors([3, 10, 0], [1, 4, 0], [2, 3, 1]);
    expect(terms).toEqual([1, 4, 0]);
    expect(mean(terms)).toBe(forecastError([3, 10, 0], [1, 4, 0], [2, 3, 1]));
  });

  it('names the largest term of the error behind the reason', () => {
    const rec = [0.1, 0.2, 3];
    const pred = [5, 0.1, 0.2];
    expect(featureErrors(rec, pred, 'prediction').top).toBe(0);
    expect(featureErrors(rec, pred, 'reconstruction').top).toBe(2);
    // Range, spread and no reason have no terms of their own: the reconstruction's.
    for (const reason of ['range', 'spread', null] as const)
      expect(featureErrors(rec, pred, reason).top).toBe(2);
    // A model with one decoder: whichever error it has.
    expect(featureErrors(null, pred, 'reconstruction').top).toBe(0);
    expect(featureErrors(rec, null, 'prediction').top).toBe(2);
    expect(featureErrors(null, null, null)).toEqual({
      reconstruction: null,
      prediction: null,
      top: 0,
    });
  });
});
