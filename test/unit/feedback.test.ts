import { describe, expect, it } from 'vitest';
import {
  FeedbackMemory,
  similar,
  windowExcess,
  type AlertDetail,
  type FalseAlarm,
} from '../../src/anomaly/index.js';
import { falseAlarmOf, tryParseFeedback } from '../../src/contracts/feedback.js';
import { anomalyPayload, outputMessages, type WindowOutputs } from '../../src/contracts/outputs.js';
import { topicNames } from '../../src/config/index.js';

const detail = (d: Partial<AlertDetail> = {}): AlertDetail => ({
  reason: null,
  score: 1,
  reconstructionError: 0.5,
  predictionError: 4,
  ...d,
});
const mark = (m: Partial<FalseAlarm> = {}): FalseAlarm => ({
  streamId: 's',
  seq: 100,
  ...detail(),
  ...m,
});

describe('similar: a would-be alert against a marked false alarm', () => {
  it('is the same pattern up to the tolerance on the error magnitude (root of the larger error)', () => {
    // Marked magnitude √4 = 2; tolerance 0.5 lets it reach 3, i.e. an error of 9.
    expect(similar(detail({ predictionError: 4 }), mark(), 0.5)).toBe(true);
    expect(similar(detail({ predictionError: 8.9 }), mark(), 0.5)).toBe(true);
    expect(similar(detail({ predictionError: 9.1 }), mark(), 0.5)).toBe(false);
    expect(similar(detail({ predictionError: 9.1 }), mark(), 1)).toBe(true);
    // A smaller event is like it too; a missing error kind falls back to the one both know.
    expect(similar(detail({ predictionError: null, reconstructionError: 1 }), mark(), 0)).toBe(
      true,
    );
  });

  it('needs the same check behind the alert, when the mark knows it', () => {
    expect(similar(detail({ reason: 'spread' }), mark({ reason: 'range' }), 0.5)).toBe(false);
    expect(similar(detail({ reason: 'range' }), mark({ reason: 'range' }), 0.5)).toBe(true);
    expect(similar(detail({ reason: 'range' }), mark({ reason: undefined }), 0.5)).toBe(true);
  });

  it('compares a range alert by its excess, on the same side only', () => {
    const m = mark({
      reason: 'range',
      excess: 10,
      reconstructionError: 0.01,
      predictionError: 0.01,
    });
    const d = (excess: number) =>
      detail({ reason: 'range', excess, reconstructionError: 0.01, predictionError: 0.01 });
    expect(similar(d(12), m, 0.5)).toBe(true);
    expect(similar(d(16), m, 0.5)).toBe(false); // errors alike, the value much further out
    expect(similar(d(-10), m, 0.5)).toBe(false); // the other way
  });

  it('falls back to the score without errors, and matches nothing when the mark knows nothing', () => {
    const bare = { streamId: 's', seq: 1 };
    const noErrors = { reconstructionError: null, predictionError: null };
    expect(similar(detail({ ...noErrors, score: 0.6 }), { ...bare, score: 0.5 }, 0.5)).toBe(true);
    expect(similar(detail({ ...noErrors, score: 0.8 }), { ...bare, score: 0.5 }, 0.5)).toBe(false);
    expect(similar(detail(), bare, 100)).toBe(false);
  });
});

describe('FeedbackMemory', () => {
  const options = { tolerance: 0.5, expiryMs: 0, perStream: 2 };

  it('suppresses like events on the marked stream only', () => {
    const memory = new FeedbackMemory(options);
    memory.add(mark());
    expect(memory.suppressing('s', detail())).toMatchObject({ seq: 100 });
    expect(memory.suppressing('other', detail())).toBeUndefined();
    expect(memory.suppressing('s', detail({ predictionError: 40 }))).toBeUndefined();
  });

  it('keeps the newest marks of a stream, once each, and lets them expire', () => {
    const memory = new FeedbackMemory({ ...options, expiryMs: 1000 });
    memory.add(mark({ seq: 1 }), 0);
    memory.add(mark({ seq: 2 }), 0);
    memory.add(mark({ seq: 1 }), 500); // again: refreshed, not doubled
    memory.add(mark({ seq: 3 }), 600);
    expect(memory.of('s', 600).map((m) => m.seq)).toEqual([1, 3]);
    expect(memory.of('s', 1550).map((m) => m.seq)).toEqual([3]);
    expect(memory.suppressing('s', detail(), 5000)).toBeUndefined();
  });
});

describe('windowExcess', () => {
  it("is the last value's distance from the window's median (first feature)", () => {
    expect(windowExcess([[1], [2], [3], [10]])).toBe(7.5);
    expect(
      windowExcess([
        [5, 0],
        [4, 0],
        [1, 0],
      ]),
    ).toBe(-3);
    expect(windowExcess([])).toBeUndefined();
  });
});

describe('the feedback contract', () => {
  it('takes a false alarm with or without the alert detail', () => {
    const r = tryParseFeedback('{"v":1,"streamId":"pump-7","seq":12,"kind":"false-alarm"}');
    expect(r.ok && falseAlarmOf(r.value)).toEqual({ streamId: 'pump-7', seq: 12 });
    const full = tryParseFeedback(
      JSON.stringify({
        v: 1,
        streamId: 'p',
        seq: 0,
        kind: 'false-alarm',
        reason: 'range',
        score: 1,
        excess: -2,
      }),
    );
    expect(full.ok && falseAlarmOf(full.value)).toMatchObject({ reason: 'range', excess: -2 });
  });

  it('refuses anything else with a dead-letter reason', () => {
    const reason = (text: string) => {
      const r = tryParseFeedback(text);
      return r.ok ? 'accepted' : r.error.code;
    };
    expect(reason('nope')).toBe('bad_json');
    expect(reason('{"v":1,"streamId":"p","seq":-1,"kind":"false-alarm"}')).toBe('schema');
    expect(reason('{"v":1,"streamId":"p","seq":1,"kind":"true-alarm"}')).toBe('schema');
    expect(reason('{"v":2,"streamId":"p","seq":1,"kind":"false-alarm"}')).toBe('schema');
    expect(reason('{"v":1,"streamId":"a:b","seq":1,"kind":"false-alarm"}')).toBe('schema');
    expect(reason('{"v":1,"streamId":"p","seq":1,"kind":"false-alarm","extra":1}')).toBe('schema');
    expect(reason('{"v":1,"__proto__":{},"streamId":"p","seq":1,"kind":"false-alarm"}')).toBe(
      'schema',
    );
    expect(reason(`{"v":1,"streamId":"${'x'.repeat(20_000)}"}`)).toBe('too_large');
  });
});

describe('the anomaly output of a suppressed window', () => {
  it("says suppressed: 'feedback' in both encodings, and nothing when not suppressed", () => {
    const o: WindowOutputs = {
      window: { v: 1, streamId: 's', seq: 3, end: 0, step: 1, values: [[1]] },
      modelId: 'm',
      modelVersion: 1,
      embedding: [0],
      score: 1,
      alert: false,
      reconstructionError: 1,
      predictionError: null,
      scorer: 'training-z',
      reason: null,
      suppressed: 'feedback',
    };
    const encoded = (w: WindowOutputs) =>
      JSON.parse(
        outputMessages(topicNames('x.'), [w]).find((b) => b.name === 'anomalies')!.messages[0]!
          .value as string,
      ) as Record<string, unknown>;
    expect(encoded(o)).toEqual(anomalyPayload(o));
    expect(encoded(o).suppressed).toBe('feedback');
    const { suppressed: _, ...plain } = o;
    expect('suppressed' in encoded(plain)).toBe(false);
  });
});
