import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { decodeF32, encodeF32 } from '../../src/contracts/f32b64.js';
import {
  decodeOutput,
  outputMessages,
  outputPayloads,
  type WindowOutputs,
} from '../../src/contracts/outputs.js';
import { ValidationError } from '../../src/errors/index.js';

const f32 = (xs: number[]) => xs.map((x) => Math.fround(x));

describe('f32b64', () => {
  it('writes little-endian float32: 1.0 is 00 00 80 3f', () => {
    // A big-endian writer gives 3f 80 00 00 ("P4AAAA=="), a float64 one eight bytes.
    expect(encodeF32([1])).toBe('AACAPw==');
    expect(Buffer.from(encodeF32([1, -2.5]), 'base64')).toEqual(
      Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0]),
    );
  });

  it('round-trips vectors and matrices (row after row) to their float32 values', () => {
    const v = [0.1, -1e-7, 12.345678, 3.4e38, -0, 1 / 3];
    expect(Array.from(decodeF32(encodeF32(v)))).toEqual(f32(v));
    const m = [
      [1.5, 2.25],
      [-3.1, 4e-3],
      [5, 6],
    ];
    expect(Array.from(decodeF32(encodeF32(m)))).toEqual(f32(m.flat()));
    // The scratch is reused: a short encoding after a long one has only its own numbers.
    expect(Array.from(decodeF32(encodeF32([7])))).toEqual([7]);
    expect(encodeF32([])).toBe('');
  });

  it('refuses text that is not whole float32s', () => {
    expect(() => decodeF32(Buffer.from([1, 2, 3]).toString('base64'))).toThrow(ValidationError);
  });
});

const win = { v: 1 as const, streamId: 's-1', seq: 12, end: 12_000, step: 1000, values: [[1]] };
const outputs: WindowOutputs = {
  window: win,
  modelId: 'm',
  modelVersion: 3,
  reconstruction: [
    [10.1, 1],
    [11.2, 2],
    [12.3, 3],
  ],
  prediction: [
    [11.2, 2],
    [12.3, 3],
    [13.4, 4],
  ],
  embedding: [0.1, -0.2, 0.3, 1e-9],
  score: 0.75,
  alert: true,
  reconstructionError: 0.5,
  predictionError: null,
  scorer: 'likelihood',
  reason: 'reconstruction',
  featureErrors: { reconstruction: [0.4, 0.1], prediction: null, top: 0 },
};

describe('output contract version 2 (f32b64)', () => {
  const { topics } = loadConfig({}, { SEQAE_TOPIC_PREFIX: 't.' });
  const batches = outputMessages(topics, [outputs], 'f32b64');
  const json = outputPayloads(outputs) as Record<string, Record<string, unknown>>;

  it('decodes every topic back to the JSON payload, numbers as float32', () => {
    expect(batches.map((b) => b.name).sort()).toEqual(
      ['anomalies', 'embeddings', 'predictions', 'reconstructions'].sort(),
    );
    for (const b of batches) {
      const decoded = decodeOutput(Buffer.from(String(b.messages[0]!.value)));
      const want = { ...json[b.name]! };
      if (b.name === 'embeddings') want.embedding = f32(outputs.embedding);
      if (b.name === 'reconstructions') want.reconstruction = outputs.reconstruction!.map(f32);
      if (b.name === 'predictions') want.prediction = outputs.prediction!.map(f32);
      if (b.name !== 'anomalies') want.v = 2;
      expect(decoded).toEqual(want);
    }
  });

  it('announces the encoding on the numeric topics (no model headers); anomalies stay v1 JSON', () => {
    for (const b of batches) {
      const m = b.messages[0]!;
      const compact = b.name !== 'anomalies';
      expect(m.headers?.['seqae-encoding']).toBe(compact ? 'f32b64' : undefined);
      expect(m.headers?.['seqae-id']).toBe('s-1:12');
      expect(m.headers?.['seqae-model-version']).toBe(compact ? undefined : '3');
      if (!compact) expect(m.value).toBe(JSON.stringify(json.anomalies));
    }
    const embedding = batches.find((b) => b.name === 'embeddings')!.messages[0]!;
    expect(JSON.parse(String(embedding.value)).embedding).toBe(encodeF32(outputs.embedding));
  });

  it('reads version 1 records unchanged and refuses what is not an output record', () => {
    const v1 = outputMessages(topics, [outputs], 'json');
    for (const b of v1) expect(decodeOutput(String(b.messages[0]!.value))).toEqual(json[b.name]);
    expect(() => decodeOutput('not json')).toThrow(ValidationError);
    expect(() => decodeOutput('[1]')).toThrow(ValidationError);
    expect(() => decodeOutput(null)).toThrow(ValidationError);
    const bad = { v: 2, prediction: encodeF32([1, 2, 3]), features: 2 };
    expect(() => decodeOutput(JSON.stringify(bad))).toThrow(ValidationError);
  });
});
