import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config/index.js';
import { parseTrainJob } from '../../src/contracts/jobs.js';
import { tryParseReading } from '../../src/contracts/reading.js';
import {
  encodeWindow,
  tryParseWindow,
  windowLimits,
  type Window,
} from '../../src/contracts/window.js';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import { redact, secretsOf } from '../../src/log/index.js';
import { ProducerPipeline } from '../../src/producer/pipeline.js';
import { NdjsonSource } from '../../src/producer/sources/ndjson.js';
import { plainWindowing } from '../support/windows.js';

/**
 * The pure parts of refusing bad input: prototype keys, the SEQAE_MAX_WINDOW_VALUES limit where
 * workers parse windows and producers cut them, training jobs checked as they arrive, and secrets
 * kept out of error messages and log lines. The same cases against real servers and processes are
 * in test/e2e/bad-input.test.ts.
 */

const window = (rows: number, features: number): Window => ({
  v: 1,
  streamId: 's',
  seq: rows - 1,
  end: 0,
  step: 1,
  values: Array.from({ length: rows }, (_, i) => Array.from({ length: features }, () => i)),
});

describe('prototype keys', () => {
  it('refuse a window or a reading that carries __proto__, constructor or prototype', () => {
    const good = JSON.stringify(window(3, 1)).slice(1);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const text = `{"${key}":{"polluted":1},${good}`;
      const w = tryParseWindow(text);
      expect(w.ok ? 'accepted' : `${w.error.code}: ${w.error.message}`).toBe(
        `schema: forbidden key "${key}"`,
      );
      const r = tryParseReading(`{"${key}":{"streamId":"x"},"ts":1,"value":1}`, { streamId: 'k' });
      expect(r.ok ? 'accepted' : r.error.message).toBe(`forbidden key "${key}"`);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('SEQAE_MAX_WINDOW_VALUES', () => {
  it('bounds the numbers of a window and the bytes of its message', () => {
    const limits = windowLimits(100);
    expect(tryParseWindow(encodeWindow(window(10, 10)), limits).ok).toBe(true);
    const values = tryParseWindow(encodeWindow(window(10, 11)), limits);
    expect(values.ok ? 'accepted' : values.error.code).toBe('too_large');
    const bytes = tryParseWindow(Buffer.alloc(limits.maxBytes + 1, ' '), limits);
    expect(bytes.ok ? 'accepted' : bytes.error.message).toMatch(/bytes >/);
  });

  it('is a setting, and a producer window longer than it is refused at start', () => {
    expect(readConfig({ SEQAE_MAX_WINDOW_VALUES: '100' }).config.maxWindowValues).toBe(100);
    expect(() =>
      readConfig({ SEQAE_MAX_WINDOW_VALUES: '100', SEQAE_WINDOW: '200' }, {}, 'produce'),
    ).toThrow(/SEQAE_WINDOW: 200 readings a window exceed SEQAE_MAX_WINDOW_VALUES=100/);
  });

  it('makes the producer dead-letter readings too wide for it, and go on', async () => {
    const lines = [1, 2, 3, 4].map((ts) =>
      JSON.stringify({ streamId: 's', ts, values: ts === 2 ? [1, 2, 3, 4, 5] : [ts] }),
    );
    const windows: Window[] = [];
    const letters: DeadLetter[] = [];
    const p = new ProducerPipeline({
      windows: { ...plainWindowing, nIn: 2 },
      sinks: [
        { name: 'memory', send: async (w) => void windows.push(...w), close: async () => {} },
      ],
      deadLetters: { send: async (l) => void letters.push(...l), close: async () => {} },
      batchSize: 10,
      maxInFlight: 10,
      lingerMs: 10,
      checkpointIntervalMs: 1000,
      maxWindowValues: 9,
    });
    const input = Readable.from([Buffer.from(lines.join('\n'))]);
    const stats = await p.run(new NdjsonSource({ path: '-', input, maxLineBytes: 1000 }));
    expect(letters.map((l) => [l.reason, l.detail])).toEqual([
      ['too_large', '5 features × 2 readings a window > 9 numbers'],
    ]);
    expect(windows.map((w) => w.values)).toEqual([
      [[1], [3]],
      [[3], [4]],
    ]);
    expect(stats.rejected).toEqual({ too_large: 1 });
  });
});

describe('training jobs', () => {
  const data = { modelId: 'm', reason: 'request' };
  const reason = (name: string, d: unknown, max = 100) => {
    const r = parseTrainJob(name, d, max);
    return r.ok ? 'accepted' : `${r.error.code}: ${r.error.message}`;
  };

  it('are checked as they arrive: name, data, model overrides, explicit windows', () => {
    expect(reason('train', data)).toBe('accepted');
    expect(reason('exec', data)).toBe('unknown_job: "exec" is not a job of the training queue');
    expect(reason('train', { ...data, reason: 'because' })).toMatch(/^schema: reason/);
    expect(reason('train', { ...data, extra: 1 })).toMatch(/^schema: /);
    expect(reason('train', { reason: 'request' })).toMatch(/^schema: modelId/);
    expect(reason('train', { ...data, model: { units: -1 } })).toMatch(/^model_config: /);
    expect(reason('train', JSON.parse('{"modelId":"m","reason":"request","__proto__":{}}'))).toBe(
      'schema: forbidden key "__proto__"',
    );
    expect(reason('train', { ...data, windows: [window(3, 1)] })).toBe('accepted');
    expect(reason('train', { ...data, windows: [window(3, 1), window(11, 10)] })).toBe(
      'too_large: windows[1]: values: 11×10 > 100 numbers',
    );
  });
});

describe('secrets', () => {
  it('are redacted from text: URL passwords and the given values', () => {
    expect(redact('dial redis://:pw1@h:6379/0 and rediss://u:p%40w@h failed')).toBe(
      'dial redis://:***@h:6379/0 and rediss://u:***@h failed',
    );
    expect(redact('{"password":"s\\"x"} s"x', ['s"x'])).toBe('{"password":"***"} ***');
  });

  it('are named by secretsOf and never echoed by a configuration error', () => {
    const { config } = readConfig({
      REDIS_URL: 'redis://:p%40ss@h:6379',
      REDIS_PASSWORD: 'alone',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'kafkapw',
    });
    expect(secretsOf(config).sort()).toEqual(['alone', 'kafkapw', 'p%40ss', 'p@ss']);
    const message = (env: Record<string, string>) => {
      try {
        readConfig(env);
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(message({ REDIS_URL: 'http://:topsecret@h' })).toBe(
      'REDIS_URL: expected redis://host:port[/db] or rediss://… (got "http://:***@h")',
    );
    expect(message({ REDIS_PASSWORD: '', KAFKA_SASL_MECHANISM: 'plain' })).toMatch(
      /^KAFKA_SASL_USERNAME: required/,
    );
  });
});
