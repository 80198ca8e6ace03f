import { describe, expect, it } from 'vitest';
import { erf, forecastError, logErrorStats, trainingZScoring } from '../../src/anomaly/index.js';

describe('anomaly scoring', () => {
  it('erf matches known values', () => {
    expect(erf(0)).toBeCloseTo(0, 6);
    expect(erf(1)).toBeCloseTo(0.8427, 4);
    expect(erf(-1)).toBeCloseTo(-0.8427, 4);
    expect(erf(3)).toBeCloseTo(0.99998, 4);
  });

  it('forecastError: mean over features of squared errors in units of each feature scale', () => {
    expect(forecastError([3, 10], [1, 4], [2, 3])).toBe((1 + 4) / 2);
    expect(forecastError(new Float32Array([0.5]), [0.5], [7])).toBe(0);
  });

  it('scores errors against the training distribution on the log scale', () => {
    const training = Array.from({ length: 1000 }, (_, i) => 0.01 * Math.exp(0.5 * Math.sin(i)));
    const stats = { reconstruction: logErrorStats(training)! };
    expect(stats.reconstruction.mean).toBeCloseTo(Math.log(0.01), 1);
    const typical = trainingZScoring.score({ reconstructionError: 0.01 }, stats);
    const high = trainingZScoring.score({ reconstructionError: 0.2 }, stats);
    const low = trainingZScoring.score({ reconstructionError: 0.001 }, stats);
    expect(typical).toBeLessThan(0.2);
    expect(low).toBe(0);
    expect(high).toBeGreaterThan(0.99);
    expect(high).toBeLessThanOrEqual(1);
  });

  it('takes the worse of the two errors, ignores a missing one, and is 0 without statistics', () => {
    const stats = {
      reconstruction: { mean: Math.log(0.01), std: 0.5 },
      prediction: { mean: Math.log(0.01), std: 0.5 },
    };
    const both = trainingZScoring.score({ reconstructionError: 0.01, predictionError: 0.1 }, stats);
    const predOnly = trainingZScoring.score({ predictionError: 0.1 }, stats);
    expect(both).toBe(predOnly);
    expect(both).toBeGreaterThan(0.9);
    expect(
      trainingZScoring.score({ reconstructionError: 0.01, predictionError: null }, stats),
    ).toBeLessThan(0.1);
    expect(trainingZScoring.score({ reconstructionError: 5 }, undefined)).toBe(0);
  });
});
