import type { SeqaeConfig } from '../../config/index.js';
import type { Window } from '../../contracts/window.js';
import { Windower } from '../../windows/windower.js';
import type { NabFile } from './corpus.js';
import { probationLength } from './scorer.js';

/**
 * A benchmark file as a worker sees it: the producer's windows of its rows, and the way back from a
 * window (its `seq`) to the row it ends at. The producer drops repeated and backward timestamps
 * (49 rows in 8 of NAB's files), which take no `seq`; the benchmark scores every row all the same.
 */
export interface FileWindows {
  windows: Window[];
  /** The row of each window's last reading, by seq (`rowOfSeq[w.seq]`). */
  rowOfSeq: Map<number, number>;
  /** Rows the producer dropped (late or duplicate timestamps). */
  dropped: number;
}

/** The windows `seqae produce` cuts from `file` as stream `streamId`, with the producer's settings. */
export function fileWindows(
  file: NabFile,
  streamId: string,
  producer: SeqaeConfig['producer'],
): FileWindows {
  const windower = new Windower({
    nIn: producer.window,
    stride: producer.stride,
    reorder: producer.reorder,
    gaps: producer.gaps,
    maxFill: producer.maxFill,
  });
  // seq numbers count the readings the windower accepted (filled ones too), in time order: a
  // window's end time names its row (timestamps left in the stream are unique).
  const rowOfTime = new Map<number, number>();
  const windows: Window[] = [];
  let dropped = 0;
  for (let i = 0; i < file.values.length; i++) {
    const pushed = windower.push({ streamId, ts: file.timestamps[i]!, values: [file.values[i]!] });
    if (pushed.dropped) dropped++;
    else rowOfTime.set(file.timestamps[i]!, i);
    windows.push(...pushed.windows);
  }
  windows.push(...windower.flush());
  const rowOfSeq = new Map<number, number>();
  for (const w of windows) {
    const row = rowOfTime.get(w.end);
    if (row !== undefined) rowOfSeq.set(w.seq, row);
  }
  return { windows, rowOfSeq, dropped };
}

/**
 * One score per row from the windows' scores: a row ending a window gets that window's score; any
 * other row (before the first window, dropped by the producer, or whose window was not scored) the
 * score of the row before it, 0 before any.
 */
export function rowScores(
  rows: number,
  rowOfSeq: ReadonlyMap<number, number>,
  scoreOfSeq: ReadonlyMap<number, number>,
): Float64Array {
  const byRow = new Map<number, number>();
  for (const [seq, score] of scoreOfSeq) {
    const row = rowOfSeq.get(seq);
    if (row !== undefined) byRow.set(row, score);
  }
  const out = new Float64Array(rows);
  let last = 0;
  for (let i = 0; i < rows; i++) out[i] = last = byRow.get(i) ?? last;
  return out;
}

/**
 * The windows a file's first training learns from: the worker's warm-up, but never past the part
 * `trainFraction` of the benchmark's probationary period (the rest of probation lets the scoring
 * calibrate on errors the model did not train on). At least 2 (SEQAE_WARMUP_WINDOWS' minimum).
 */
export function warmupFor(rows: number, warmupWindows: number, trainFraction: number): number {
  return Math.max(2, Math.min(warmupWindows, Math.floor(probationLength(rows) * trainFraction)));
}

/** A file's stream id (streamIdSchema: no whitespace, no ":"): `<prefix><category>/<file>`. */
export function nabStreamId(prefix: string, name: string): string {
  return `${prefix}${name.replace(/\.csv$/, '')}`.replace(/[\s:\p{Cc}]/gu, '_').slice(0, 200);
}
