import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { NabFile } from '../../src/eval/nab/corpus.js';
import { fileWindows, nabStreamId, rowScores, warmupFor } from '../../src/eval/nab/stream.js';
import { streamIdSchema } from '../../src/contracts/window.js';

const producer = loadConfig({ SEQAE_WINDOW: '3' }).producer;

/** A file of `times` (minutes) and values 0, 1, 2, … */
function file(times: number[]): NabFile {
  return {
    name: 'cat/f.csv',
    category: 'cat',
    stamps: times.map(String),
    timestamps: times.map((t) => t * 60_000),
    values: times.map((_, i) => i),
    windows: [],
  };
}

describe('a NAB file as the producer windows it', () => {
  it('maps each window back to the row it ends at, past repeated and backward timestamps', () => {
    // Rows 3 (repeated time 2) and 5 (back to 1) are dropped by the producer and take no seq.
    const f = file([0, 1, 2, 2, 3, 1, 4, 5]);
    const { windows, rowOfSeq, dropped } = fileWindows(f, 's', producer);
    expect(dropped).toBe(2);
    expect(windows.map((w) => w.seq)).toEqual([2, 3, 4, 5]);
    expect(windows.map((w) => w.values.flat())).toEqual([
      [0, 1, 2],
      [1, 2, 4],
      [2, 4, 6],
      [4, 6, 7],
    ]);
    expect([...rowOfSeq]).toEqual([
      [2, 2],
      [3, 4],
      [4, 6],
      [5, 7],
    ]);
  });

  it('scores every row: a window its end row, any other row the row before it, 0 before any', () => {
    const rowOfSeq = new Map([
      [2, 2],
      [3, 4],
      [4, 6],
    ]);
    const scores = new Map([
      [2, 0.2],
      [3, 0.3],
      [4, 0.4],
    ]);
    expect([...rowScores(8, rowOfSeq, scores)]).toEqual([0, 0, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4]);
  });

  it("trains on the warm-up, capped by the file's probationary period", () => {
    expect(warmupFor(4032, 256, 0.5)).toBe(256); // probation 604: 302 > 256
    expect(warmupFor(1882, 256, 0.5)).toBe(141); // probation 282
    expect(warmupFor(10, 256, 0.5)).toBe(2);
  });

  it('names streams as the window contract allows', () => {
    const id = nabStreamId('nab-x/', 'realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv');
    expect(id).toBe('nab-x/realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn');
    expect(streamIdSchema.safeParse(nabStreamId('a:', 'b c.csv')).success).toBe(true);
  });
});
