import type { Readable } from 'node:stream';

export interface Line {
  /** 1-based line number. */
  no: number;
  /** The line without its end of line (\n or \r\n); an oversized line's first maxBytes bytes. */
  bytes: Buffer;
  oversized: boolean;
}

/**
 * Splits a byte stream into lines, one array per chunk read, so callers handle thousands at a time.
 * A line longer than `maxBytes` is not buffered whole: its first `maxBytes` bytes come back flagged
 * `oversized` and the rest is skipped up to the next newline, so one bad line cannot exhaust memory.
 */
export async function* readLines(
  input: Readable,
  maxBytes: number,
  signal?: AbortSignal,
): AsyncGenerator<Line[]> {
  let carry: Buffer[] = [];
  let carryLength = 0;
  let skipping = false; // inside an oversized line, after its first maxBytes bytes
  let no = 0;
  const finishLine = (out: Line[], last: Buffer) => {
    no++;
    let bytes = carry.length === 0 ? last : Buffer.concat([...carry, last]);
    const oversized = skipping || bytes.length > maxBytes;
    if (oversized) bytes = bytes.subarray(0, maxBytes);
    else if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
    out.push({ no, bytes, oversized });
    carry = [];
    carryLength = 0;
    skipping = false;
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      if (signal?.aborted) break;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const out: Line[] = [];
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl === -1) break;
        finishLine(out, skipping ? Buffer.alloc(0) : buf.subarray(start, nl));
        start = nl + 1;
      }
      if (start < buf.length && !skipping) {
        const rest = buf.subarray(start);
        carry.push(rest);
        carryLength += rest.length;
        if (carryLength > maxBytes) {
          // keep only the first maxBytes bytes as the line's evidence, drop the rest until \n
          const head = Buffer.concat(carry).subarray(0, maxBytes);
          carry = [head];
          carryLength = head.length;
          skipping = true;
        }
      }
      if (out.length > 0) yield out;
    }
    if (!signal?.aborted && (carryLength > 0 || skipping)) {
      const out: Line[] = [];
      finishLine(out, Buffer.alloc(0));
      yield out;
    }
  } finally {
    input.destroy();
  }
}
