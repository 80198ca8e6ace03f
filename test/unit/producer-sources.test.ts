import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CsvSource, resolveColumns, splitCsv } from '../../src/producer/sources/csv.js';
import { readLines } from '../../src/producer/sources/lines.js';
import { NdjsonSource } from '../../src/producer/sources/ndjson.js';
import {
  generateSynthetic,
  parseSyntheticSpec,
  SyntheticSource,
  syntheticAnomalies,
} from '../../src/producer/sources/synthetic.js';
import type { ReadingSource, SourceItem } from '../../src/producer/sources/types.js';

const NAB = 'test/fixtures/nab/realTraffic/speed_7578.csv';

async function all(source: ReadingSource): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const b of source.batches(new AbortController().signal)) out.push(...b.items);
  return out;
}

const chunks = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

describe('line reader', () => {
  it('splits across chunks, strips CR, and cuts oversized lines without losing the next', async () => {
    const lines = [];
    const input = chunks('a,1\r\nb,', '2\n', 'x'.repeat(30), 'y'.repeat(30), '\nc,3\nlast');
    for await (const batch of readLines(input, 20)) lines.push(...batch);
    expect(lines.map((l) => [l.no, l.bytes.toString(), l.oversized])).toEqual([
      [1, 'a,1', false],
      [2, 'b,2', false],
      [3, 'x'.repeat(20), true],
      [4, 'c,3', false],
      [5, 'last', false],
    ]);
  });
});

describe('CSV source', () => {
  it('reads the NAB shape', async () => {
    const items = await all(
      new CsvSource({ path: NAB, header: true, delimiter: ',', maxLineBytes: 65536 }),
    );
    expect(items).toHaveLength(1127); // 1128 lines: header + 1127 rows, no final newline
    expect(items[0]).toEqual({
      reading: { streamId: 'speed_7578', ts: Date.UTC(2015, 8, 8, 11, 39), values: [73] },
    });
    expect(items.every((i) => i.reading)).toBe(true);
  });

  it('sends each bad row away with its reason, keeping the good ones', async () => {
    const text = [
      'timestamp,value',
      '2015-09-08 11:39:00,73',
      '2015-09-08 11:44:00,7x3',
      '2015-09-08 11:49:00,62,1',
      '2015-09-08 11:54:00,NaN',
      '2015-09-08 11:59:00,Infinity',
      'not a time,5',
      '2015-09-08 12:04:00,' + '9'.repeat(100),
      '',
      '2015-09-08 12:09:00,64',
    ].join('\n');
    const items = await all(
      new CsvSource({
        path: 'bad.csv',
        header: true,
        delimiter: ',',
        input: chunks(text),
        maxLineBytes: 60,
      }),
    );
    expect(items.filter((i) => i.reading).map((i) => i.reading!.values[0])).toEqual([73, 64]);
    expect(items.filter((i) => i.bad).map((i) => [i.bad!.reason, i.bad!.source])).toEqual([
      ['bad_number', 'csv:bad.csv#L3'],
      ['column_count', 'csv:bad.csv#L4'],
      ['non_finite', 'csv:bad.csv#L5'],
      ['non_finite', 'csv:bad.csv#L6'],
      ['bad_timestamp', 'csv:bad.csv#L7'],
      ['oversized', 'csv:bad.csv#L8'],
    ]);
    expect(items.find((i) => i.bad)!.bad!.original.toString()).toBe('2015-09-08 11:44:00,7x3');
  });

  it('maps columns by name or index, with a stream column', async () => {
    const text = 'id,temp,when,load\nm1,20.5,1000,0.1\nm2,"21,5",2000,0.2\nm1,22,3000,0.3\n';
    const items = await all(
      new CsvSource({
        path: 'multi.csv',
        header: true,
        delimiter: ',',
        input: chunks(text),
        maxLineBytes: 65536,
        columns: { timestamp: 'when', values: ['load', 1], stream: 'id' },
      }),
    );
    expect(items.map((i) => i.reading ?? i.bad!.reason)).toEqual([
      { streamId: 'm1', ts: 1000, values: [0.1, 20.5] },
      'bad_number',
      { streamId: 'm1', ts: 3000, values: [0.3, 22] },
    ]);
    expect(splitCsv('"a ""q""",b,', ',')).toEqual(['a "q"', 'b', '']);
    expect(splitCsv('"open,b', ',')).toBeUndefined();
    expect(() => resolveColumns(['t', 'v'], 2, { values: ['nope'] })).toThrow(/not in the header/);
    expect(resolveColumns(undefined, 3, {}).values).toEqual([1, 2]);
  });
});

describe('NDJSON source', () => {
  it('reads readings and rejects bad lines by reason', async () => {
    const text = [
      '{"streamId":"a","ts":1000,"values":[1,2]}',
      '{"streamId":"a","ts":2000,"value":3}',
      '{"v":2,"streamId":"a","ts":3000,"value":1}',
      '{"streamId":"a","ts":4000,"value":"NaN"}',
      '{oops',
      '   ',
      '{"ts":5000,"value":4}',
    ].join('\n');
    const items = await all(
      new NdjsonSource({ path: '-', input: chunks(text), streamId: 'dflt', maxLineBytes: 65536 }),
    );
    expect(items.map((i) => i.reading?.streamId ?? i.bad!.reason)).toEqual([
      'a',
      'a',
      'unknown_version',
      'non_finite',
      'bad_json',
      'dflt',
    ]);
    expect(items[2]!.bad!.source).toBe('ndjson:-#L3');
  });
});

describe('synthetic fleet', () => {
  it('parses its spec and rejects nonsense', () => {
    const spec = parseSyntheticSpec(
      'sine?streams=4&length=2000&period=50&noise=0.05&anomalies=3&seed=1',
    );
    expect(spec).toMatchObject({ shape: 'sine', streams: 4, length: 2000, anomalies: 3, seed: 1 });
    expect(() => parseSyntheticSpec('square')).toThrow(/shape/);
    expect(() => parseSyntheticSpec('sine?streams=0')).toThrow(/streams/);
    expect(() => parseSyntheticSpec('sine?colour=red')).toThrow(/unknown key/);
  });

  it('is reproducible, time ordered, and its anomalies stand out where it says', async () => {
    const spec = parseSyntheticSpec(
      'mix?streams=4&length=500&noise=0.01&anomalies=2&magnitude=5&seed=7',
    );
    const a = [...generateSynthetic(spec)];
    const b = [...generateSynthetic(spec)];
    expect(a).toEqual(b);
    expect(a).toHaveLength(2000);
    expect(a.slice(0, 4).map((r) => r.streamId)).toEqual([
      'syn-mix-0',
      'syn-mix-1',
      'syn-mix-2',
      'syn-mix-3',
    ]);
    const other = [...generateSynthetic({ ...spec, seed: 8 })];
    expect(other[10]!.values).not.toEqual(a[10]!.values);
    const anomalies = syntheticAnomalies(spec);
    expect(anomalies).toHaveLength(8);
    for (const an of anomalies) {
      const s = Number(an.streamId.split('-').at(-1));
      const at = a[an.index * 4 + s]!;
      const before = a[(an.index - 1) * 4 + s]!;
      expect(at.ts).toBe(an.ts);
      expect(an.index).toBeGreaterThanOrEqual(100);
      expect(Math.abs(at.values[0]! - before.values[0]!)).toBeGreaterThan(2.5);
    }
    const source = new SyntheticSource('noise?streams=2&length=10&features=3');
    const items = await all(source);
    expect(items).toHaveLength(20);
    expect(items[0]!.reading!.values).toHaveLength(3);
    expect(source.progress!.done()).toBe(20);
  });
});
