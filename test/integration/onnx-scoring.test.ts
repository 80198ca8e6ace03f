import * as tf from '@tensorflow/tfjs-core';
import { pino } from 'pino';
import { LikelihoodScoring } from '../../src/anomaly/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { SequenceAutoencoder } from '../../src/model/index.js';
import type { WindowOutputs } from '../../src/contracts/outputs.js';
import { ModelRegistry } from '../../src/model-registry/index.js';
import { createRedis } from '../../src/transport/redis.js';
import type { Window } from '../../src/contracts/window.js';
import { ModelCache } from '../../src/scoring/model-cache.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { WindowScorer } from '../../src/scoring/window-scorer.js';
import { datasetFromStreams, trainingErrorStats } from '../../src/training/training.js';
import { cleanupRedis, testConfig } from '../support/services.js';

const NIN = 8;
const FEATURES = 3;
const config = testConfig('onnx-scoring', { SEQAE_BACKEND: 'onnx' });

/** Windows of a few 3-feature streams, consecutive per stream (so forecasts are compared too). */
function windows(streams: number, perStream: number): Window[] {
  const value = (s: number, t: number, f: number) =>
    10 * f + (f + 1) * Math.sin(t / (4 + s) + f) + 0.1 * Math.cos(7 * t + s);
  const out: Window[] = [];
  for (let s = 0; s < streams; s++)
    for (let i = 0; i < perStream; i++) {
      const seq = i + NIN - 1;
      out.push({
        v: 1,
        streamId: `onnx-${s}`,
        seq,
        end: 1_700_000_000_000 + seq * 1000,
        step: 1000,
        values: Array.from({ length: NIN }, (_, k) =>
          Array.from({ length: FEATURES }, (_, f) => value(s, seq - NIN + 1 + k, f)),
        ),
      });
    }
  return out;
}

function maxDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

const flat = (rows?: number[][]) => (rows ?? []).flat();

describe('worker scoring path on ONNX Runtime (real Redis)', () => {
  const redis = createRedis(config);
  const registry = new ModelRegistry(redis, {
    prefix: config.redis.keyPrefix,
    keep: config.worker.modelKeep,
  });
  const caches: ModelCache[] = [];

  beforeAll(async () => {
    // The worker's decision for SEQAE_BACKEND=onnx: train on tfjs, score on ONNX Runtime.
    const backend = await initBackend(config.backend);
    expect(backend.scoring).toBe('onnxruntime');
    await cleanupRedis(config);
    const model = SequenceAutoencoder.create({
      nIn: NIN,
      features: FEATURES,
      units: 10,
      epochs: 3,
      seed: 2,
    });
    const data = datasetFromStreams(model, windows(2, 60));
    await model.train(data);
    await registry.publish('onnx-model', await model.save(), {
      variant: model.config.variant,
      config: { ...model.config },
      streams: ['onnx-0', 'onnx-1'],
      errorStats: await trainingErrorStats(model, data),
      createdAt: Date.now(),
    });
    model.dispose();
  });
  afterAll(async () => {
    for (const c of caches) c.clear();
    await registry.close();
    redis.disconnect();
    await cleanupRedis(config);
  });

  it('scores through the ONNX engine when asked, with the outputs of the tfjs path', async () => {
    const tfjsCache = new ModelCache(registry, { max: config.worker.modelCache });
    const onnxCache = new ModelCache(registry, {
      max: config.worker.modelCache,
      engine: { kind: 'onnxruntime', threads: 1 },
    });
    caches.push(tfjsCache, onnxCache);
    expect(await tfjsCache.use('onnx-model', async (m) => m.engine.kind)).toBe('tfjs');
    expect(await onnxCache.use('onnx-model', async (m) => m.engine.kind)).toBe('onnxruntime');
    // Zero the tfjs weights of the ONNX cache's copy: only its ONNX engine (which holds the weights
    // as exported) can still give the reference outputs below.
    await onnxCache.use('onnx-model', async (m) => {
      const layers = m.model.model;
      layers.setWeights(layers.getWeights().map((w) => tf.zerosLike(w)));
    });

    const input = windows(3, 25);
    // Each scorer its own likelihood state: it learns from every window it scores.
    const scoring = () => ({ anomaly: new LikelihoodScoring(), alertThreshold: 0.5 });
    const [a, b] = await Promise.all([
      new WindowScorer(tfjsCache, scoring()).score('onnx-model', input, 16),
      new WindowScorer(onnxCache, scoring()).score('onnx-model', input, 16),
    ]);
    expect(a!.rejected).toEqual([]);
    expect(b!.rejected).toEqual([]);
    expect(b!.outputs).toHaveLength(input.length);
    const key = (o: WindowOutputs) => `${o.window.streamId}:${o.window.seq}`;
    const byKey = new Map(a!.outputs.map((o) => [key(o), o]));
    let worst = 0;
    let withForecastError = 0;
    for (const o of b!.outputs) {
      const t = byKey.get(key(o))!;
      expect(o.modelVersion).toBe(t.modelVersion);
      worst = Math.max(
        worst,
        maxDiff(flat(o.reconstruction), flat(t.reconstruction)),
        maxDiff(flat(o.prediction), flat(t.prediction)),
        maxDiff(o.embedding, t.embedding),
        Math.abs(o.reconstructionError! - t.reconstructionError!),
        Math.abs(o.score - t.score),
      );
      if (o.predictionError !== null) {
        withForecastError++;
        expect(Math.abs(o.predictionError - t.predictionError!)).toBeLessThanOrEqual(1e-4);
      }
      expect(o.reconstruction).toHaveLength(NIN);
      expect(o.embedding).toHaveLength(10);
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(withForecastError).toBeGreaterThan(0);
  });

  it('disposes the ONNX engine with its model version', async () => {
    const cache = new ModelCache(registry, {
      max: config.worker.modelCache,
      engine: { kind: 'onnxruntime', threads: 1 },
    });
    caches.push(cache);
    const engine = await cache.use('onnx-model', async (m) => m.engine);
    const unloaded: number[] = [];
    cache.on('unloaded', (m) => unloaded.push(m.version));
    cache.clear();
    expect(unloaded).toEqual([1]);
    // A released ONNX Runtime session refuses to run.
    await expect(engine!.infer(windows(1, 1).map((w) => w.values))).rejects.toThrow();
  });

  it('a worker process on SEQAE_BACKEND=onnx says so in its log and seqae_build_info', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const worker = await WorkerProcess.start(
      testConfig('onnx-scoring-worker', {
        SEQAE_BACKEND: 'onnx',
        SEQAE_ROLES: 'infer',
        SEQAE_HTTP_PORT: '0',
      }),
      log,
    );
    try {
      expect(worker.backend.scoring).toBe('onnxruntime');
      const ready = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'compute backend ready');
      expect(ready.backend).toBe('onnxruntime');
      // Training stays on tfjs: tfjs-node where it is installed, else WebAssembly.
      expect(['tensorflow', 'wasm']).toContain(ready.training);
      const metrics = await worker.metricsRegistry.metrics();
      expect(metrics).toMatch(/^seqae_build_info\{[^}]*backend="onnxruntime"[^}]*\} 1$/m);
    } finally {
      await worker.stop();
    }
  });
});
