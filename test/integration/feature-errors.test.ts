import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { outputPayloads } from '../../src/contracts/outputs.js';
import type { Window } from '../../src/contracts/window.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { ModelCache } from '../../src/scoring/model-cache.js';
import { anomalyScoring, WindowScorer } from '../../src/scoring/window-scorer.js';
import { datasetFromStreams, trainingErrorStats } from '../../src/training/training.js';
import { createRedis } from '../../src/transport/redis.js';
import { cleanupRedis, testConfig } from '../support/services.js';

const NIN = 8;
const FEATURES = 3;
const config = testConfig('feature-errors', { SEQAE_BACKEND: 'onnx' });

/** Feature f of a stream at time t: a sine of its own amplitude, period and level. */
const value = (t: number, f: number) => 10 * f + (f + 1) * Math.sin(t / (4 + f) + f);

/** Consecutive windows of a 3-feature stream; `bump` adds a disturbance to one feature's readings. */
function windows(
  streamId: string,
  count: number,
  bump?: { feature: number; from: number; to: number; size?: number },
): Window[] {
  const reading = (t: number) =>
    Array.from({ length: FEATURES }, (_, f) => {
      const hit = bump && f === bump.feature && t >= bump.from && t <= bump.to;
      // Four (or `size`) of the feature's standard deviations (its amplitude is f + 1).
      return value(t, f) + (hit ? (bump.size ?? 4) * (f + 1) : 0);
    });
  return Array.from({ length: count }, (_, i) => {
    const seq = i + NIN - 1;
    return {
      v: 1,
      streamId,
      seq,
      end: 1_700_000_000_000 + seq * 1000,
      step: 1000,
      values: Array.from({ length: NIN }, (_, k) => reading(seq - NIN + 1 + k)),
    };
  });
}

describe('per-feature errors on the worker scoring path (ONNX Runtime, real Redis)', () => {
  const redis = createRedis(config);
  const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 2 });
  const cache = new ModelCache(registry, {
    max: 4,
    engine: { kind: 'onnxruntime', threads: 1 },
  });

  beforeAll(async () => {
    await initBackend(config.backend);
    await cleanupRedis(config);
    const model = SequenceAutoencoder.create({
      nIn: NIN,
      features: FEATURES,
      units: 10,
      epochs: 5,
      seed: 3,
    });
    const data = datasetFromStreams(model, windows('train', 120));
    await model.train(data);
    await registry.publish('fe-model', await model.save(), {
      variant: model.config.variant,
      config: { ...model.config },
      streams: ['train'],
      errorStats: await trainingErrorStats(model, data),
      createdAt: Date.now(),
    });
    model.dispose();
  });
  afterAll(async () => {
    cache.clear();
    await registry.close();
    redis.disconnect();
    await cleanupRedis(config);
  });

  it('names the one disturbed feature of a 3-feature window, for each feature', async () => {
    const scorer = new WindowScorer(cache, anomalyScoring(config.worker.anomaly));
    expect(await cache.use('fe-model', async (m) => m.engine.kind)).toBe('onnxruntime');
    for (let k = 0; k < FEATURES; k++) {
      // Readings 30-32 of feature k only; the window ending at 35 holds them in its middle rows.
      const input = windows(`fe-${k}`, 40, { feature: k, from: 30, to: 32 });
      const result = await scorer.score('fe-model', input, 16);
      const hit = result!.outputs.find((o) => o.window.seq === 35)!;
      expect(hit.featureErrors!.top).toBe(k);
      const rec = hit.featureErrors!.reconstruction!;
      expect(rec).toHaveLength(FEATURES);
      for (let f = 0; f < FEATURES; f++) if (f !== k) expect(rec[k]).toBeGreaterThan(2 * rec[f]!);
    }
  });

  it('gives every window its alert score, and alerts exactly where it reaches the threshold', async () => {
    const scorer = new WindowScorer(cache, anomalyScoring(config.worker.anomaly));
    // 400 ordinary windows (past the score's and the alert's warm-ups), then feature 2 far out of
    // range for 3 readings.
    const input = windows('fe-alert', 420, { feature: 2, from: 402, to: 404, size: 30 });
    const result = await scorer.score('fe-model', input, 64);
    const outputs = result!.outputs;
    for (const o of outputs) {
      expect(o.alertScore).toBeGreaterThanOrEqual(0);
      expect(o.alertScore).toBeLessThanOrEqual(1);
      expect(o.alert).toBe(o.alertScore! >= config.worker.anomaly.alertThreshold);
    }
    const alerts = outputs.filter((o) => o.alert);
    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.every((o) => o.window.seq >= 402)).toBe(true);
    // On the anomalies topic as well.
    const payload = outputPayloads(alerts[0]!).anomalies as { alertScore?: number };
    expect(payload.alertScore).toBe(alerts[0]!.alertScore);
  });

  it('per-feature terms average to the window errors, on every window', async () => {
    const scorer = new WindowScorer(cache, anomalyScoring(config.worker.anomaly));
    const result = await scorer.score(
      'fe-model',
      windows('fe-sum', 30, { feature: 1, from: 20, to: 21 }),
      8,
    );
    let withPrediction = 0;
    for (const o of result!.outputs) {
      const { reconstruction, prediction } = o.featureErrors!;
      const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
      expect(mean(reconstruction!)).toBeCloseTo(o.reconstructionError!, 5);
      if (o.predictionError === null) expect(prediction).toBeNull();
      else {
        withPrediction++;
        expect(prediction).toHaveLength(FEATURES);
        expect(mean(prediction!)).toBe(o.predictionError);
      }
    }
    expect(withPrediction).toBe(result!.outputs.length - 1);
  });
});
