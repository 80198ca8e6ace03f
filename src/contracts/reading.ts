import { ValidationError } from '../errors/index.js';
import { hostileKey, streamIdSchema, type ParseResult } from './window.js';

/**
 * A reading: one timestamped sample of one stream, with one value per feature. This is what sensor
 * services publish on `seqae.readings` (UTF-8 JSON, one reading per message, key = stream id) and
 * what NDJSON input holds, one per line:
 *
 * ```json
 * {"v": 1, "streamId": "pump-7", "ts": 1732795200000, "values": [0.42, 17.5]}
 * {"streamId": "pump-7", "ts": "2024-11-28T12:00:05Z", "value": 0.44}
 * ```
 *
 * `v` is optional (absent = 1); `ts` is epoch milliseconds or a date string (ISO 8601, or
 * `YYYY-MM-DD HH:MM:SS`; without a zone, UTC); `value: n` is short for `values: [n]`. On Kafka the
 * message key stands in for a missing `streamId`.
 */
export const READING_VERSION = 1;

export interface Reading {
  streamId: string;
  /** Epoch milliseconds. */
  ts: number;
  values: number[];
}

/** Why input is not a reading; the DLQ reasons and metric labels of bad input. */
export type ReadingRejection =
  | 'bad_json'
  | 'schema'
  | 'unknown_version'
  | 'bad_number'
  | 'non_finite'
  | 'bad_timestamp'
  | 'column_count'
  | 'oversized';

const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const EPOCH = /^-?\d+(?:\.\d+)?$/;

/**
 * Epoch ms of a timestamp: a finite number (epoch ms), a string of digits (epoch ms), ISO 8601 with
 * a zone, or a date/time without one (`2015-09-08 11:39:00`, `2015-09-08T11:39`, `2015-09-08`),
 * which is taken as UTC so that a replay gives the same windows on every machine. NaN if none of these.
 */
export function parseTimestamp(input: unknown): number {
  if (typeof input === 'number') return Number.isFinite(input) ? Math.round(input) : NaN;
  if (typeof input !== 'string') return NaN;
  const s = input.trim();
  if (EPOCH.test(s)) return Math.round(Number(s));
  const m = NAIVE.exec(s);
  if (m) {
    const [, y, mo, d, h, mi, sec, ms] = m;
    const t = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, sec ? +sec : 0, ms ? +ms.padEnd(3, '0') : 0);
    // Date.UTC rolls 2015-02-31 over into March; a real calendar date survives the round trip.
    const back = new Date(t);
    return back.getUTCMonth() === +mo! - 1 && back.getUTCDate() === +d! ? t : NaN;
  }
  if (DATE_ONLY.test(s)) return parseTimestamp(`${s} 00:00:00`);
  // With a zone (Z or ±hh:mm) Date.parse is unambiguous.
  if (/T.*(?:Z|[+-]\d{2}:?\d{2})$/i.test(s)) return Date.parse(s);
  return NaN;
}

/** A decimal number field: finite, or a 'bad_number'/'non_finite' rejection. */
export function parseNumber(text: string): number | 'bad_number' | 'non_finite' {
  const s = text.trim();
  if (s === '') return 'bad_number';
  const x = Number(s);
  if (Number.isNaN(x)) return /^[+-]?nan$/i.test(s) ? 'non_finite' : 'bad_number';
  if (!Number.isFinite(x)) return 'non_finite';
  return x;
}

export interface ParseReadingOptions {
  /** Stream id when the message has none (the Kafka key, or `--stream`). */
  streamId?: string;
  /** Largest message accepted, in bytes. Default 1 MiB. */
  maxBytes?: number;
}

function fail(code: ReadingRejection, message: string, cause?: unknown): ParseResult<Reading> {
  return { ok: false, error: new ValidationError(message, code, cause) };
}

/** Decodes and validates one reading (JSON bytes, string, or object). Never throws. */
export function tryParseReading(
  input: Uint8Array | string | unknown,
  options: ParseReadingOptions = {},
): ParseResult<Reading> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  let obj: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
    if (size > maxBytes) return fail('oversized', `message of ${size} bytes > ${maxBytes}`);
    try {
      obj = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
    } catch (e) {
      return fail('bad_json', `not JSON: ${(e as Error).message}`, e);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    return fail('schema', 'a reading is a JSON object');
  const o = obj as Record<string, unknown>;
  const hostile = hostileKey(o);
  if (hostile) return fail('schema', `forbidden key ${JSON.stringify(hostile)}`);
  if (o.v !== undefined && o.v !== READING_VERSION)
    return fail('unknown_version', `reading version ${JSON.stringify(o.v)} is not 1`);

  const streamId = o.streamId ?? options.streamId;
  if (streamId === undefined) return fail('schema', 'streamId: missing');
  const sid = streamIdSchema.safeParse(streamId);
  if (!sid.success) return fail('schema', sid.error.issues[0]?.message ?? 'streamId: invalid');

  if (o.ts === undefined) return fail('schema', 'ts: missing');
  const ts = parseTimestamp(o.ts);
  if (Number.isNaN(ts)) return fail('bad_timestamp', `ts: ${JSON.stringify(o.ts)} is not a time`);

  let raw: unknown[];
  if (o.values !== undefined) {
    if (o.value !== undefined) return fail('schema', 'give either value or values, not both');
    if (!Array.isArray(o.values) || o.values.length === 0)
      return fail('schema', 'values: expected a non-empty array of numbers');
    raw = o.values;
  } else if (o.value !== undefined) raw = [o.value];
  else return fail('schema', 'values: missing');

  const values = new Array<number>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const x = raw[i];
    // JSON has no NaN or Infinity; senders write them as strings or null. Name them for what they are.
    if (typeof x === 'number') values[i] = x;
    else if (typeof x === 'string') {
      const n = parseNumber(x);
      if (typeof n === 'string') return fail(n, `values[${i}]: ${JSON.stringify(x)}`);
      values[i] = n;
    } else if (x === null) return fail('non_finite', `values[${i}] is null`);
    else return fail('bad_number', `values[${i}]: ${JSON.stringify(x)} is not a number`);
  }
  return { ok: true, value: { streamId: sid.data, ts, values } };
}
