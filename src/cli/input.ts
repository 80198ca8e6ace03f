import type { Readable } from 'node:stream';
import type { SeqaeConfig } from '../config/index.js';
import type { DeadLetter } from '../contracts/dead-letter.js';
import type { Window } from '../contracts/window.js';
import { parseSourceSpec } from '../producer/producer.js';
import { CsvSource, type CsvColumns } from '../producer/sources/csv.js';
import { NdjsonSource } from '../producer/sources/ndjson.js';
import type { ReadingSource } from '../producer/sources/types.js';
import { Windower } from '../windows/windower.js';

/** The run options of `train` and `infer` that say how to read their input (settings' inputShape). */
export interface InputOptions {
  columns?: CsvColumns;
  header: boolean;
  delimiter: string;
  step?: number;
  stream?: string;
  /** Input for `-` (default stdin). */
  stdin?: Readable;
}

/**
 * The reading source of `csv:<path>`, `ndjson:<path>` or `-` (NDJSON on stdin), the same sources as
 * `seqae produce` reads. A bad spec or a missing file throws, for a one-line error.
 */
export function inputSource(spec: string, config: SeqaeConfig, o: InputOptions): ReadingSource {
  const { maxLineBytes } = config.producer;
  const { kind, arg } = parseSourceSpec(spec === '-' ? 'ndjson:-' : spec);
  if (kind === 'csv')
    return new CsvSource({
      path: arg,
      streamId: o.stream,
      columns: o.columns,
      header: o.header,
      delimiter: o.delimiter,
      maxLineBytes,
    });
  if (kind === 'ndjson')
    return new NdjsonSource({
      path: arg || '-',
      streamId: o.stream,
      maxLineBytes,
      input: (arg || '-') === '-' ? o.stdin : undefined,
    });
  throw new RangeError(
    `input "${spec}": expected csv:<path>, ndjson:<path> or - (NDJSON on stdin)`,
  );
}

/**
 * The windows of a source as the producer cuts them (config.producer's window, stride, reorder,
 * gaps), batch by batch, with the input that was no reading. Windows of a stream come in seq order.
 */
export async function* windowsOf(
  source: ReadingSource,
  config: SeqaeConfig,
  step?: number,
): AsyncGenerator<{ windows: Window[]; bad: DeadLetter[] }> {
  const p = config.producer;
  const windower = new Windower({
    nIn: p.window,
    stride: p.stride,
    reorder: p.reorder,
    gaps: p.gaps,
    maxFill: p.maxFill,
    step,
  });
  try {
    for await (const batch of source.batches(new AbortController().signal)) {
      const windows: Window[] = [];
      const bad: DeadLetter[] = [];
      for (const item of batch.items) {
        if (item.bad) bad.push(item.bad);
        else windows.push(...windower.push(item.reading).windows);
      }
      yield { windows, bad };
    }
    yield { windows: windower.flush(), bad: [] };
  } finally {
    await source.close();
  }
}
