import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { deadLetter } from '../../contracts/dead-letter.js';
import { tryParseReading } from '../../contracts/reading.js';
import { readLines } from './lines.js';
import type { ReadingSource, SourceBatch, SourceItem, SourceProgress } from './types.js';

export interface NdjsonSourceOptions {
  /** A file, or '-' for stdin. */
  path: string;
  /** Stream id for readings that name none. Default: none (such readings are rejected). */
  streamId?: string;
  /** Longest line accepted, in bytes; longer ones go to the DLQ as `oversized` (config.producer). */
  maxLineBytes: number;
  /** Read from this stream instead (tests); default stdin for '-'. */
  input?: Readable;
}

/** Readings as newline-delimited JSON (see src/contracts/reading.ts), from stdin or a file. Blank lines are skipped. */
export class NdjsonSource implements ReadingSource {
  readonly kind = 'ndjson' as const;
  readonly description: string;
  readonly progress?: SourceProgress;
  private bytesRead = 0;

  constructor(private readonly options: NdjsonSourceOptions) {
    this.description = `ndjson:${options.path}`;
    if (!options.input && options.path !== '-') {
      const total = statSync(options.path).size;
      this.progress = { unit: 'bytes', total, done: () => this.bytesRead };
    }
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const o = this.options;
    const input = o.input ?? (o.path === '-' ? process.stdin : createReadStream(o.path));
    for await (const lines of readLines(input, o.maxLineBytes, signal)) {
      const items: SourceItem[] = [];
      for (const line of lines) {
        this.bytesRead += line.bytes.length + 1;
        const source = `${this.description}#L${line.no}`;
        if (line.oversized) {
          const message = `line longer than ${o.maxLineBytes} bytes`;
          items.push({
            bad: deadLetter({ code: 'oversized', message }, source, { original: line.bytes }),
          });
          continue;
        }
        if (isBlank(line.bytes)) continue;
        const r = tryParseReading(line.bytes, {
          streamId: o.streamId,
          maxBytes: o.maxLineBytes,
        });
        if (r.ok) items.push({ reading: r.value });
        else items.push({ bad: deadLetter(r.error, source, { original: line.bytes }) });
      }
      if (items.length > 0) yield { items };
      if (signal.aborted) break;
    }
  }

  async close(): Promise<void> {}
}

function isBlank(b: Buffer): boolean {
  for (const c of b) if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  return true;
}
