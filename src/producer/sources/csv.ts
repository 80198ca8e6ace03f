import { createReadStream, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Readable } from 'node:stream';
import { deadLetter } from '../../contracts/dead-letter.js';
import { parseNumber, parseTimestamp, type Reading } from '../../contracts/reading.js';
import { streamIdSchema } from '../../contracts/window.js';
import { readLines } from './lines.js';
import type { ReadingSource, SourceBatch, SourceItem, SourceProgress } from './types.js';

/** A column: its header name, or its 0-based index. */
export type ColumnRef = string | number;

export interface CsvColumns {
  /** The timestamp column. Default: the first column. */
  timestamp?: ColumnRef;
  /** The value columns, one feature each, in order. Default: every column but the others named. */
  values?: ColumnRef[];
  /** A column holding the stream id, for files with several streams. Default: none (one stream). */
  stream?: ColumnRef;
}

export interface CsvSourceOptions {
  path: string;
  /** Stream id of every row (when no stream column). Default: the file name without extension. */
  streamId?: string;
  columns?: CsvColumns;
  /** Whether the first line names the columns (the NAB shape `timestamp,value` does). */
  header: boolean;
  /** Field separator. */
  delimiter: string;
  /** Longest line accepted, in bytes; longer ones go to the DLQ as `oversized` (config.producer). */
  maxLineBytes: number;
  /** Read from this stream instead of opening `path` (tests, pipes). */
  input?: Readable;
}

/**
 * Splits one CSV record. Fields may be double-quoted (with "" for a quote inside); no record spans
 * lines (sensor exports never need that, and it keeps one bad line from swallowing the next).
 */
export function splitCsv(line: string, delimiter: string): string[] | undefined {
  if (!line.includes('"')) return line.split(delimiter);
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let field = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return undefined; // unterminated quote
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(field);
      if (i === line.length) return out;
      if (!line.startsWith(delimiter, i)) return undefined;
      i += delimiter.length;
    } else {
      const d = line.indexOf(delimiter, i);
      if (d === -1) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, d));
      i = d + delimiter.length;
    }
  }
}

interface Resolved {
  width: number;
  timestamp: number;
  values: number[];
  valueNames: string[];
  stream?: number;
}

/** Column references → indices, against the header (or by index when there is none). */
export function resolveColumns(header: string[] | undefined, width: number, columns: CsvColumns) {
  const index = (ref: ColumnRef, what: string): number => {
    if (typeof ref === 'number' || (/^\d+$/.test(ref) && !header?.includes(ref))) {
      const i = Number(ref);
      if (i >= width) throw new RangeError(`${what} column ${i}: the file has ${width} columns`);
      return i;
    }
    const i = header ? header.indexOf(ref) : -1;
    if (i === -1)
      throw new RangeError(
        header
          ? `${what} column "${ref}" is not in the header (${header.join(', ')})`
          : `${what} column "${ref}": the file has no header, name columns by index`,
      );
    return i;
  };
  const timestamp = index(columns.timestamp ?? 0, 'timestamp');
  const stream = columns.stream === undefined ? undefined : index(columns.stream, 'stream');
  const values = columns.values
    ? columns.values.map((c) => index(c, 'value'))
    : Array.from({ length: width }, (_, i) => i).filter((i) => i !== timestamp && i !== stream);
  if (values.length === 0) throw new RangeError('no value columns');
  const valueNames = values.map((i) => header?.[i] ?? String(i));
  return { width, timestamp, values, valueNames, stream } satisfies Resolved;
}

/**
 * A CSV file of readings: NAB's `timestamp,value` by default, any shape with `columns`. Each bad row
 * (wrong column count, a value that is no number or not finite, a time that is no time, an oversized
 * line) becomes bad input with its reason and bytes; the rows around it are unaffected.
 */
export class CsvSource implements ReadingSource {
  readonly kind = 'csv' as const;
  readonly description: string;
  readonly progress?: SourceProgress;
  private bytesRead = 0;
  /** Header names and resolved columns, once the first line is read. */
  columns?: Resolved;

  constructor(private readonly o: CsvSourceOptions) {
    this.description = `csv:${o.path}`;
    if (!o.input) {
      const total = statSync(o.path).size;
      this.progress = { unit: 'bytes', total, done: () => this.bytesRead };
    }
    if (this.o.streamId !== undefined) streamIdSchema.parse(this.o.streamId);
  }

  private defaultStreamId(): string {
    const name = basename(this.o.path, extname(this.o.path)).replace(/[\s:]+/g, '_');
    return this.o.streamId ?? (name || 'csv');
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const input = this.o.input ?? createReadStream(this.o.path, { highWaterMark: 256 * 1024 });
    const streamId = this.defaultStreamId();
    const where = (no: number) => `${this.description}#L${no}`;
    let cols = this.columns;
    for await (const lines of readLines(input, this.o.maxLineBytes, signal)) {
      const items: SourceItem[] = [];
      for (const line of lines) {
        this.bytesRead += line.bytes.length + 1;
        const bad = (code: string, message: string, streamId?: string) =>
          items.push({
            bad: deadLetter({ code, message }, where(line.no), { original: line.bytes, streamId }),
          });
        if (line.oversized) {
          bad('oversized', `line longer than ${this.o.maxLineBytes} bytes`, streamId);
          continue;
        }
        const text = line.bytes.toString('utf8');
        if (text.trim() === '') continue;
        const fields = splitCsv(text, this.o.delimiter);
        if (!cols) {
          // the first line fixes the shape; a bad header is a usage error, not bad input
          const header = this.o.header ? fields?.map((f) => f.trim()) : undefined;
          if (!fields) throw new RangeError(`${where(line.no)}: unreadable header`);
          cols = this.columns = resolveColumns(header, fields.length, this.o.columns ?? {});
          if (this.o.header) continue;
        }
        if (!fields || fields.length !== cols.width) {
          bad(
            'column_count',
            fields
              ? `${fields.length} columns, expected ${cols.width}`
              : 'unterminated quoted field',
            streamId,
          );
          continue;
        }
        const sid = cols.stream === undefined ? streamId : fields[cols.stream]!.trim();
        if (cols.stream !== undefined && !streamIdSchema.safeParse(sid).success) {
          bad('schema', `stream id ${JSON.stringify(sid)} is not valid`);
          continue;
        }
        const ts = parseTimestamp(fields[cols.timestamp]!);
        if (Number.isNaN(ts)) {
          bad('bad_timestamp', `${JSON.stringify(fields[cols.timestamp])} is not a time`, sid);
          continue;
        }
        const values = new Array<number>(cols.values.length);
        let rejected = false;
        for (let k = 0; k < cols.values.length; k++) {
          const raw = fields[cols.values[k]!]!;
          const x = parseNumber(raw);
          if (typeof x === 'string') {
            bad(x, `column ${cols.valueNames[k]}: ${JSON.stringify(raw)}`, sid);
            rejected = true;
            break;
          }
          values[k] = x;
        }
        if (!rejected) items.push({ reading: { streamId: sid, ts, values } satisfies Reading });
      }
      if (items.length > 0) yield { items };
      if (signal.aborted) break;
    }
  }

  async close(): Promise<void> {}
}
