import { describe, expect, it } from 'vitest';
import {
  encodeWindow,
  parseWindow,
  parseWindowId,
  tryParseWindow,
  windowId,
  type Window,
} from '../../src/contracts/window.js';
import { trainJobId, windowJobId } from '../../src/contracts/jobs.js';
import {
  deadLetter,
  dlqMessage,
  dlqOriginal,
  encodeDlq,
  parseDlq,
} from '../../src/contracts/dead-letter.js';
import { parseTimestamp, tryParseReading, type Reading } from '../../src/contracts/reading.js';
import { inferStep, Windower, windowize } from '../../src/windows/windower.js';
import { ValidationError } from '../../src/errors/index.js';
import { plainWindowing } from '../support/windows.js';

const w: Window = {
  v: 1,
  streamId: 's-1',
  seq: 9,
  end: 1000,
  step: 100,
  values: [
    [1, 2],
    [3, 4],
  ],
};

function code(input: unknown): string | undefined {
  const r = tryParseWindow(input);
  return r.ok ? undefined : r.error.code;
}

describe('window contract', () => {
  it('round-trips through bytes and names the window', () => {
    expect(parseWindow(encodeWindow(w))).toEqual(w);
    const bytes = encodeWindow(w);
    expect(parseWindow(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))).toEqual(w);
    expect(windowId(w)).toBe('s-1:9');
    expect(windowJobId(w)).toBe('s-1@9');
    expect(parseWindowId('s-1:9')).toEqual({ streamId: 's-1', seq: 9 });
    expect(parseWindowId('a@b@12')).toEqual({ streamId: 'a@b', seq: 12 });
  });

  it('names one training job per model version', () => {
    expect(trainJobId('pump-7', 3)).toBe('train@pump-7@v3');
  });

  it('rejects bad input with a reason code', () => {
    expect(code('{"v":1,')).toBe('bad_json');
    expect(code(Buffer.from('[1]'))).toBe('schema');
    expect(code({ ...w, v: 2 })).toBe('unknown_version');
    expect(code({ ...w, v: undefined })).toBe('schema');
    expect(code({ ...w, values: [[1, 2], [3]] })).toBe('ragged');
    expect(code({ ...w, values: [[1, NaN]] })).toBe('non_finite');
    expect(code({ ...w, values: [[1, Infinity]] })).toBe('non_finite');
    expect(code({ ...w, values: [[1, '2']] })).toBe('schema');
    expect(code({ ...w, values: [] })).toBe('schema');
    expect(code({ ...w, seq: -1 })).toBe('schema');
    expect(code({ ...w, seq: 1.5 })).toBe('schema');
    expect(code({ ...w, streamId: 'a:b' })).toBe('schema');
    expect(code({ ...w, streamId: '' })).toBe('schema');
    expect(code({ ...w, extra: 1 })).toBe('schema');
    expect(tryParseWindow(encodeWindow(w), { maxBytes: 10 }).ok).toBe(false);
    expect(() => parseWindow('nope')).toThrow(/not JSON/);
  });

  it('names the envelope field at fault, as the schema check did', () => {
    const message = (input: unknown) => {
      const r = tryParseWindow(input);
      return r.ok ? undefined : `${r.error.code} ${r.error.message}`;
    };
    const { streamId: _s, ...noStream } = w;
    const int = 'Invalid input: expected int, received number';
    const safe = Number.MAX_SAFE_INTEGER;
    expect(message({ ...w, v: undefined })).toBe('schema v: missing (expected 1)');
    expect(message({ ...w, v: undefined, seq: -1 })).toBe('schema v: missing (expected 1)');
    expect(message(noStream)).toBe(
      'schema streamId: Invalid input: expected string, received undefined',
    );
    expect(message({ ...w, streamId: 5 })).toBe(
      'schema streamId: Invalid input: expected string, received number',
    );
    for (const bad of ['', 'a:b', 'a b', 'a\u0001', 'x'.repeat(201)])
      expect(message({ ...w, streamId: bad })).toBe(
        'schema streamId: streamId: 1-200 characters, no whitespace, no ":"',
      );
    expect(tryParseWindow({ ...w, streamId: 'x'.repeat(200) }).ok).toBe(true);
    expect(message({ ...w, seq: -1 })).toBe('schema seq: Too small: expected number to be >=0');
    expect(message({ ...w, seq: 1.5 })).toBe(`schema seq: ${int}`);
    expect(message({ ...w, seq: '9' })).toBe(
      'schema seq: Invalid input: expected number, received string',
    );
    expect(message({ ...w, seq: null })).toBe(
      'schema seq: Invalid input: expected number, received null',
    );
    expect(message({ ...w, seq: [] })).toBe(
      'schema seq: Invalid input: expected number, received array',
    );
    expect(message({ ...w, seq: NaN })).toBe(
      'schema seq: Invalid input: expected number, received NaN',
    );
    expect(message({ ...w, seq: safe + 1 })).toBe(
      `schema seq: Too big: expected int to be <=${safe}`,
    );
    expect(tryParseWindow({ ...w, seq: safe }).ok).toBe(true);
    expect(message({ ...w, end: -safe - 1 })).toBe(
      `schema end: Too small: expected int to be >=-${safe}`,
    );
    expect(tryParseWindow({ ...w, end: -safe }).ok).toBe(true);
    expect(message({ ...w, end: -Infinity })).toBe(
      'schema end: Invalid input: expected number, received -Infinity',
    );
    expect(message({ ...w, end: 0.5 })).toBe(`schema end: ${int}`);
    expect(message({ ...w, step: -1 })).toBe('schema step: Too small: expected number to be >=0');
    expect(message({ ...w, step: true })).toBe(
      'schema step: Invalid input: expected number, received boolean',
    );
    expect(message({ ...w, step: {} })).toBe(
      'schema step: Invalid input: expected number, received object',
    );
    expect(message({ ...w, extra: 1 })).toBe('schema window: Unrecognized key: "extra"');
    expect(message({ ...w, extra: 1, more: 2 })).toBe(
      'schema window: Unrecognized keys: "extra", "more"',
    );
    // the first field at fault, in the envelope's order; unknown keys last
    expect(message({ ...w, extra: 1, step: -1, seq: 1.5 })).toBe(`schema seq: ${int}`);
    expect(message({ ...w, seq: -1, streamId: '' })).toMatch(/^schema streamId: /);
  });

  it('returns exactly the window fields, whatever order they came in', () => {
    const text = '{"values":[[1]],"step":0,"end":-5,"seq":0,"streamId":"s","v":1}';
    const r = tryParseWindow(text);
    expect(r.ok && r.value).toEqual({
      v: 1,
      streamId: 's',
      seq: 0,
      end: -5,
      step: 0,
      values: [[1]],
    });
    expect(r.ok && Object.keys(r.value)).toEqual(['v', 'streamId', 'seq', 'end', 'step', 'values']);
  });
});

describe('dead letters', () => {
  it('keep the reason and the original bytes', () => {
    const original = Buffer.from([0xff, 0x00, 0x41]);
    const m = dlqMessage({
      reason: 'bad_number',
      detail: 'x',
      source: 'csv:f#L2',
      original,
      at: 5,
    });
    const back = parseDlq(encodeDlq(m));
    expect(back).toEqual({
      v: 1,
      reason: 'bad_number',
      detail: 'x',
      source: 'csv:f#L2',
      original: original.toString('base64'),
      at: 5,
    });
    expect(dlqOriginal(back).equals(original)).toBe(true);
    expect(() => parseDlq('{"v":2}')).toThrow();
  });

  it('are built from a rejection: a window as its JSON under its stream, other input as given', () => {
    const why = new ValidationError('too short', 'shape_mismatch');
    expect(deadLetter(why, 'pending:m', w)).toEqual({
      reason: 'shape_mismatch',
      detail: 'too short',
      source: 'pending:m',
      original: JSON.stringify(w),
      streamId: 's-1',
    });
    const bytes = Buffer.from('{"v":');
    expect(
      deadLetter({ code: 'bad_json', message: 'x' }, 'kafka:t/0@7', { original: bytes }),
    ).toEqual({ reason: 'bad_json', detail: 'x', source: 'kafka:t/0@7', original: bytes });
  });
});

describe('readings', () => {
  it('parse timestamps as UTC', () => {
    expect(parseTimestamp('2015-09-08 11:39:00')).toBe(Date.UTC(2015, 8, 8, 11, 39));
    expect(parseTimestamp('2015-09-08T11:39:00')).toBe(Date.UTC(2015, 8, 8, 11, 39));
    expect(parseTimestamp('2015-09-08T11:39:00.5Z')).toBe(Date.UTC(2015, 8, 8, 11, 39, 0, 500));
    expect(parseTimestamp('2015-09-08T13:39:00+02:00')).toBe(Date.UTC(2015, 8, 8, 11, 39));
    expect(parseTimestamp('1441712340000')).toBe(1441712340000);
    expect(parseTimestamp(1441712340000)).toBe(1441712340000);
    expect(parseTimestamp('2015-02-31 00:00:00')).toBeNaN();
    expect(parseTimestamp('yesterday')).toBeNaN();
  });

  it('accept value or values, reject the rest by reason', () => {
    const ok = tryParseReading('{"streamId":"a","ts":5,"value":1.5}');
    expect(ok).toEqual({ ok: true, value: { streamId: 'a', ts: 5, values: [1.5] } });
    const keyed = tryParseReading({ ts: '2015-09-08 11:39:00', values: [1, 2] }, { streamId: 'k' });
    expect(keyed.ok && keyed.value.streamId).toBe('k');
    const c = (x: unknown) => {
      const r = tryParseReading(x, { maxBytes: 100 });
      return r.ok ? undefined : r.error.code;
    };
    expect(c('{')).toBe('bad_json');
    expect(c({ v: 2, streamId: 'a', ts: 1, value: 1 })).toBe('unknown_version');
    expect(c({ streamId: 'a', ts: 'never', value: 1 })).toBe('bad_timestamp');
    expect(c({ streamId: 'a', ts: 1, value: 'NaN' })).toBe('non_finite');
    expect(c({ streamId: 'a', ts: 1, value: null })).toBe('non_finite');
    expect(c({ streamId: 'a', ts: 1, value: 'x' })).toBe('bad_number');
    expect(c({ ts: 1, value: 1 })).toBe('schema');
    expect(c('x'.repeat(101))).toBe('oversized');
  });
});

const reading = (ts: number, v: number, streamId = 's'): Reading => ({ streamId, ts, values: [v] });
const series = (n: number, step = 1000, from = 0) =>
  Array.from({ length: n }, (_, i) => reading(from + i * step, i));

describe('windower', () => {
  it('gives R - nIn + 1 windows with stride 1, in order, each the right slice', () => {
    const { windows, counters } = windowize(series(100), { ...plainWindowing, nIn: 10 });
    expect(windows).toHaveLength(91);
    expect(counters.windows).toBe(91);
    windows.forEach((win, i) => {
      expect(win.seq).toBe(i + 9);
      expect(win.end).toBe((i + 9) * 1000);
      expect(win.step).toBe(1000);
      expect(win.values).toEqual(Array.from({ length: 10 }, (_, k) => [i + k]));
    });
  });

  it('honours the stride and nIn = 1', () => {
    expect(
      windowize(series(100), { ...plainWindowing, nIn: 10, stride: 5 }).windows.map((x) => x.seq),
    ).toEqual(Array.from({ length: 19 }, (_, i) => 9 + i * 5));
    expect(windowize(series(3), { ...plainWindowing, nIn: 1 }).windows).toHaveLength(3);
    expect(windowize(series(5), { ...plainWindowing, nIn: 10 }).windows).toHaveLength(0);
  });

  it('keeps streams apart', () => {
    const mixed = series(20).flatMap((r) => [r, { ...r, streamId: 't', values: [-r.values[0]!] }]);
    const { windows } = windowize(mixed, { ...plainWindowing, nIn: 5 });
    expect(windows.filter((x) => x.streamId === 's')).toHaveLength(16);
    expect(windows.filter((x) => x.streamId === 't').map((x) => x.values[4]![0])).toEqual(
      Array.from({ length: 16 }, (_, i) => -(i + 4)),
    );
  });

  it('reorders within the bound and drops late and duplicate readings, counted', () => {
    const input = series(30);
    // swap neighbours, duplicate one, and send one far too late
    [input[5], input[6]] = [input[6]!, input[5]!];
    input.splice(10, 0, { ...input[9]! });
    input.push(reading(2000, 99));
    const { windows, counters, dropped } = windowize(input, {
      ...plainWindowing,
      nIn: 5,
      reorder: 2,
    });
    expect(windows).toHaveLength(26);
    expect(windows.map((x) => x.values.at(-1)![0])).toEqual(
      Array.from({ length: 26 }, (_, i) => i + 4),
    );
    expect(counters.dropped).toEqual({ late: 1, duplicate: 1, features: 0 });
    expect(dropped.map(([, r]) => r).sort()).toEqual(['duplicate', 'late']);
    // without a reorder buffer the swapped reading is late
    const plain = windowize(input, { ...plainWindowing, nIn: 5 });
    expect(plain.counters.dropped.late).toBe(2);
  });

  it('names the reason a pushed reading was dropped, and gives no window for it', () => {
    const w = new Windower({ ...plainWindowing, nIn: 2, step: 1000 });
    expect(w.push(reading(1000, 1))).toEqual({ windows: [] });
    expect(w.push(reading(1000, 1))).toEqual({ windows: [], dropped: 'duplicate' });
    expect(w.push(reading(0, 0))).toEqual({ windows: [], dropped: 'late' });
    expect(w.push(reading(2000, 2)).windows.map((x) => x.seq)).toEqual([1]);
  });

  it('drops readings whose feature count differs from the stream', () => {
    const input = [...series(5), { streamId: 's', ts: 99_000, values: [1, 2] }];
    const { counters } = windowize(input, { ...plainWindowing, nIn: 2 });
    expect(counters.dropped.features).toBe(1);
  });

  it('restarts after a gap with skip, fills short gaps with fill', () => {
    const input = [...series(10), ...series(10, 1000, 13_000)]; // 0..9 s, then 13..22 s: 3 missing
    const ignore = windowize(input, { ...plainWindowing, nIn: 5 });
    expect(ignore.windows).toHaveLength(16);
    const skip = windowize(input, { ...plainWindowing, nIn: 5, gaps: 'skip' });
    expect(skip.windows).toHaveLength(12);
    expect(skip.counters).toMatchObject({ gaps: 1, restarts: 1 });
    expect(skip.windows.every((x) => x.end - (x.values.length - 1) * 1000 >= 0)).toBe(true);
    expect(skip.windows[6]!.seq).toBe(14); // seq keeps counting readings across the restart
    const fill = windowize(input, { ...plainWindowing, nIn: 5, gaps: 'fill', maxFill: 3 });
    expect(fill.windows).toHaveLength(19);
    expect(fill.counters.filled).toBe(3);
    expect(fill.windows.find((x) => x.seq === 12)!.values.map((r) => r[0])).toEqual([
      8, 9, 9, 9, 9,
    ]);
    const tooLong = windowize(input, { ...plainWindowing, nIn: 5, gaps: 'fill', maxFill: 2 });
    expect(tooLong.windows).toHaveLength(12);
  });

  it('infers the step from the first differences, robust to gaps', () => {
    expect(inferStep([0, 300, 600, 1500, 1800, 3000, 3300])).toBe(300);
    expect(inferStep([5])).toBe(0);
    const { windows } = windowize(series(3, 250), { ...plainWindowing, nIn: 2 });
    expect(windows.map((x) => x.step)).toEqual([250, 250]);
  });

  it('resumes from a snapshot with the same windows', () => {
    const input = series(50);
    const whole = windowize(input, { ...plainWindowing, nIn: 7, stride: 2, reorder: 3 }).windows;
    const a = new Windower({ ...plainWindowing, nIn: 7, stride: 2, reorder: 3 });
    const out = input.slice(0, 23).flatMap((r) => a.push(r).windows);
    const b = new Windower({ ...plainWindowing, nIn: 7, stride: 2, reorder: 3 });
    b.restore('s', JSON.parse(JSON.stringify(a.snapshot('s'))));
    out.push(...input.slice(23).flatMap((r) => b.push(r).windows), ...b.flush());
    expect(out).toEqual(whole);
  });
});
