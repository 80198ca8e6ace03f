/**
 * What `featureErrors` adds to a worker's hot loop, a window at a time (µs): the per-feature sums in
 * the reconstruction error's pass (against the single sum it replaced), the window's FeatureErrors
 * object in the scorer, and its JSON on `seqae.anomalies` (and that message's bytes with and without it). Pure CPU, no
 * services: run it under `flock /work/bench.lock npx tsx bench/feature-errors.ts` and note the load.
 */
import { loadavg } from 'node:os';
import { outputMessages, type WindowOutputs } from '../src/contracts/outputs.js';
import { toMatrix } from '../src/model/index.js';
import { meanSquaredErrors } from '../src/model/inference.js';
import { featureErrors, forecastFeatureErrors, mean } from '../src/scoring/feature-errors.js';
import { topicNames } from '../src/config/index.js';

const NIN = 9;
const BATCH = 256;
const ROUNDS = 200;

/** The reconstruction error's pass before featureErrors: one sum a window. */
function before(a: Float32Array, b: Float32Array, count: number): Float32Array {
  const per = a.length / count;
  const out = new Float32Array(count);
  for (let w = 0; w < count; w++) {
    let s = 0;
    for (let i = w * per; i < (w + 1) * per; i++) s += (a[i]! - b[i]!) ** 2;
    out[w] = s / per;
  }
  return out;
}

/** µs a window of `fn` over a batch, the median of ROUNDS rounds after a warm-up. */
function perWindow(fn: () => unknown): number {
  for (let r = 0; r < 50; r++) fn();
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1000 / BATCH);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)]!;
}

function measure(features: number) {
  const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random());
  const input = rand(BATCH * NIN * features);
  const rec = rand(BATCH * NIN * features);
  const { perFeature } = meanSquaredErrors(input, rec, BATCH, features);
  const scale = Array.from({ length: features }, () => 1.5);
  const forecast = Array.from({ length: features }, () => Math.random());
  const actual = Array.from({ length: features }, () => Math.random());
  const object = () => {
    for (let i = 0; i < BATCH; i++) {
      const terms = forecastFeatureErrors(forecast, actual, scale);
      mean(terms);
      featureErrors(toMatrix(perFeature, i, 1, features)[0]!, terms, null);
    }
  };
  const outputs: WindowOutputs[] = Array.from({ length: BATCH }, (_, i) => ({
    window: {
      v: 1,
      streamId: `s-${i % 16}`,
      seq: i,
      end: 1_700_000_000_000 + i,
      step: 1000,
      values: [],
    },
    modelId: 'm',
    modelVersion: 1,
    embedding: Array.from(rand(100)),
    score: Math.random(),
    alert: false,
    reconstructionError: rec[i]!,
    predictionError: input[i]!,
    scorer: 'likelihood',
    reason: null,
    featureErrors: featureErrors(
      toMatrix(perFeature, i, 1, features)[0]!,
      forecastFeatureErrors(forecast, actual, scale),
      null,
    ),
  }));
  const bare = outputs.map((o) => ({ ...o, featureErrors: undefined }));
  const topics = topicNames('seqae.');
  const bytes = (os: WindowOutputs[]) =>
    outputMessages(topics, os)
      .find((t) => t.name === 'anomalies')!
      .messages.reduce((s, m) => s + String(m.value).length, 0) / BATCH;
  return {
    features,
    errorPassBefore: perWindow(() => before(input, rec, BATCH)),
    errorPassAfter: perWindow(() => meanSquaredErrors(input, rec, BATCH, features)),
    scorerObject: perWindow(object),
    // What outputMessages adds to a window's anomalies message: the field's JSON.
    featureErrorsJson: perWindow(() => {
      for (const o of outputs) JSON.stringify(o.featureErrors);
    }),
    anomalyBytesBare: bytes(bare),
    anomalyBytesWith: bytes(outputs),
  };
}

const round = (o: Record<string, number>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v * 100) / 100]));
console.log(
  JSON.stringify({
    load: loadavg()
      .map((l) => l.toFixed(1))
      .join(' '),
  }),
);
for (const f of [1, 3, 3, 1]) console.log(JSON.stringify(round(measure(f))));
