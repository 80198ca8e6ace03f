import type { Message } from 'kafkajs';
import { z } from 'zod';
import { ValidationError } from '../errors/index.js';
import { withDefaults } from '../util/defaults.js';

/**
 * The window contract, version 1: what producers put on `seqae.windows` and into `seqae-infer` jobs,
 * and what every worker reads. A window is `nIn` consecutive readings of one stream; `seq` is the index
 * (from 0) of its last reading in the stream, so `streamId:seq` names the window everywhere and a
 * redelivered window is recognisably the same one.
 *
 * ```json
 * { "v": 1, "streamId": "speed_7578", "seq": 29, "end": 1441716240000, "step": 300000,
 *   "values": [[73], [62], … 30 rows …, [66]] }
 * ```
 *
 * Change the shape only with a new `v`, here, and keep docs/contracts.md's example true.
 */
export const WINDOW_VERSION = 1;

/** Stream ids, by hand on the hot path (`tryParseWindow`) and as a schema elsewhere. */
const STREAM_ID = /^[^\s:\p{Cc}]{1,200}$/u;
const STREAM_ID_MESSAGE = 'streamId: 1-200 characters, no whitespace, no ":"';
const WINDOW_KEYS = new Set(['v', 'streamId', 'seq', 'end', 'step', 'values']);

/** Stream ids: 1–200 characters, no whitespace, no control characters and no ':' (the id separator). */
export const streamIdSchema = z.string().regex(STREAM_ID, STREAM_ID_MESSAGE);

export interface Window {
  v: typeof WINDOW_VERSION;
  streamId: string;
  /** Index of the window's last reading in its stream (0-based). */
  seq: number;
  /** Epoch milliseconds of the last reading. */
  end: number;
  /** Milliseconds between readings (the stream's nominal step; 0 when it could not be inferred). */
  step: number;
  /** `nIn` rows of `features` finite numbers each, oldest first. */
  values: number[][];
}

/** Why a message is not a window: stable codes, used as DLQ reasons and metric labels. */
export type WindowRejection =
  'bad_json' | 'schema' | 'unknown_version' | 'non_finite' | 'ragged' | 'too_large';

export interface ParseWindowOptions {
  /** Largest encoded window accepted, in bytes. Default 4 MiB. */
  maxBytes?: number;
  /** Largest `values` accepted: rows × features. Default 1,000,000 numbers. */
  maxNumbers?: number;
}

const defaults: Required<ParseWindowOptions> = { maxBytes: 4 * 1024 * 1024, maxNumbers: 1_000_000 };

/**
 * The parse limits of windows of at most `maxValues` numbers (SEQAE_MAX_WINDOW_VALUES): a message
 * longer than any such window can be (32 bytes a number, 64 KiB for the rest) is refused unread.
 */
export function windowLimits(maxValues: number): Required<ParseWindowOptions> {
  return { maxNumbers: maxValues, maxBytes: 64 * 1024 + 32 * maxValues };
}

/** Keys that name the prototype machinery: refused in any input, whatever else it holds. */
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'];

/** The first own key of `o` that names the prototype machinery, if any. */
export function hostileKey(o: object): string | undefined {
  return HOSTILE_KEYS.find((k) => Object.hasOwn(o, k));
}

/** `streamId:seq`, the window's identity: Kafka header `seqae-id`, output keys, logs. */
export function windowId(w: Pick<Window, 'streamId' | 'seq'>): string {
  return `${w.streamId}:${w.seq}`;
}

/**
 * Inverse of `windowId` and of the infer job id (`windowJobId`, jobs.ts): the stream and seq of an
 * identity in either form.
 */
export function parseWindowId(id: string): { streamId: string; seq: number } | undefined {
  const m = /^(.+)[:@](\d+)$/.exec(id);
  if (!m) return undefined;
  const seq = Number(m[2]);
  return Number.isSafeInteger(seq) ? { streamId: m[1]!, seq } : undefined;
}

/** The window as UTF-8 JSON, the bytes on Kafka. */
export function encodeWindow(w: Window): Buffer {
  return Buffer.from(JSON.stringify(w));
}

/**
 * The Kafka record of a window on `seqae.windows`: key = stream id (one stream, one partition, in
 * order), headers `seqae-id` (its identity) and `seqae-v` (the contract version).
 */
export function windowMessage(w: Window): Message {
  return {
    key: w.streamId,
    value: encodeWindow(w),
    headers: { 'seqae-id': windowId(w), 'seqae-v': String(WINDOW_VERSION) },
  };
}

function reject(code: WindowRejection, message: string, cause?: unknown): ValidationError {
  return new ValidationError(message, code, cause);
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ValidationError };

/**
 * Decodes and validates a window from bytes, a JSON string, or an already-parsed object. Never throws:
 * a bad input comes back as a ValidationError whose `code` is a WindowRejection.
 */
export function tryParseWindow(
  input: Uint8Array | string | unknown,
  options: ParseWindowOptions = {},
): ParseResult<Window> {
  const { maxBytes, maxNumbers } = withDefaults(defaults, options);
  let obj: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
    if (size > maxBytes)
      return { ok: false, error: reject('too_large', `window of ${size} bytes > ${maxBytes}`) };
    const text = typeof input === 'string' ? input : utf8(input);
    try {
      obj = JSON.parse(text);
    } catch (e) {
      return { ok: false, error: reject('bad_json', `not JSON: ${(e as Error).message}`, e) };
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
    return { ok: false, error: reject('schema', 'a window is a JSON object') };
  const o = obj as Record<string, unknown>;
  const hostile = hostileKey(o);
  if (hostile)
    return { ok: false, error: reject('schema', `forbidden key ${JSON.stringify(hostile)}`) };
  if (o.v !== WINDOW_VERSION && o.v !== undefined)
    return {
      ok: false,
      error: reject('unknown_version', `window version ${JSON.stringify(o.v)} is not 1`),
    };

  const bad = valuesIssue(o.values, maxNumbers) ?? envelopeIssue(o);
  if (bad) return { ok: false, error: bad };
  const { streamId, seq, end, step } = o as unknown as Window;
  const value: Window = {
    v: WINDOW_VERSION,
    streamId,
    seq,
    end,
    step,
    values: o.values as number[][],
  };
  return { ok: true, value };
}

/**
 * The values' first problem, checked by hand: ragged and non-finite rows get their own reasons, and a
 * hand loop is far cheaper than a schema walk over thousands of numbers.
 */
function valuesIssue(values: unknown, maxNumbers: number): ValidationError | undefined {
  if (!Array.isArray(values) || values.length === 0)
    return reject('schema', 'values: expected a non-empty array of rows');
  let width = -1;
  for (let i = 0; i < values.length; i++) {
    const row: unknown = values[i];
    if (!Array.isArray(row) || row.length === 0)
      return reject('schema', `values[${i}]: expected a non-empty array`);
    if (width === -1) {
      width = row.length;
      if (width * values.length > maxNumbers)
        return reject('too_large', `values: ${values.length}×${width} > ${maxNumbers} numbers`);
    } else if (row.length !== width)
      return reject('ragged', `values[${i}] has ${row.length} features, values[0] has ${width}`);
    for (let j = 0; j < row.length; j++) {
      const x: unknown = row[j];
      if (typeof x !== 'number') return reject('schema', `values[${i}][${j}]: expected a number`);
      if (!Number.isFinite(x)) return reject('non_finite', `values[${i}][${j}] is ${x}`);
    }
  }
  return undefined;
}

/**
 * The envelope's first problem (`v` already 1 or absent), checked by hand in the order, and with the
 * messages, of the schema it replaces (`z.strictObject` of v, streamId, seq, end, step): the DLQ
 * reasons and details stay as they were.
 */
function envelopeIssue(o: Record<string, unknown>): ValidationError | undefined {
  if (o.v === undefined) return reject('schema', 'v: missing (expected 1)');
  const issue =
    field('streamId', stringIssue(o.streamId)) ??
    field('seq', intIssue(o.seq, 0)) ??
    field('end', intIssue(o.end, -Number.MAX_SAFE_INTEGER)) ??
    field('step', intIssue(o.step, 0)) ??
    unknownKeys(o);
  return issue === undefined ? undefined : reject('schema', issue);
}

function field(name: string, issue: string | undefined): string | undefined {
  return issue === undefined ? undefined : `${name}: ${issue}`;
}

function stringIssue(x: unknown): string | undefined {
  if (typeof x !== 'string') return `Invalid input: expected string, received ${received(x)}`;
  return STREAM_ID.test(x) ? undefined : STREAM_ID_MESSAGE;
}

/** A safe integer ≥ `min`, with the schema's messages for `z.number().int().min(min)`. */
function intIssue(x: unknown, min: number): string | undefined {
  if (typeof x !== 'number' || !Number.isFinite(x))
    return `Invalid input: expected number, received ${received(x)}`;
  if (!Number.isInteger(x)) return 'Invalid input: expected int, received number';
  if (x > Number.MAX_SAFE_INTEGER)
    return `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`;
  if (x < -Number.MAX_SAFE_INTEGER)
    return `Too small: expected int to be >=${-Number.MAX_SAFE_INTEGER}`;
  return x < min ? `Too small: expected number to be >=${min}` : undefined;
}

function unknownKeys(o: Record<string, unknown>): string | undefined {
  let extra: string[] | undefined;
  for (const k of Object.keys(o)) if (!WINDOW_KEYS.has(k)) (extra ??= []).push(`"${k}"`);
  if (extra === undefined) return undefined;
  return `window: Unrecognized key${extra.length > 1 ? 's' : ''}: ${extra.join(', ')}`;
}

/** How the schema library named a value of the wrong type (`received …`). */
function received(x: unknown): string {
  if (typeof x === 'number') return Number.isFinite(x) ? 'number' : String(x); // NaN, ±Infinity
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'object') {
    const ctor =
      Object.getPrototypeOf(x) !== Object.prototype && 'constructor' in x && x.constructor;
    return typeof ctor === 'function' ? ctor.name : 'object';
  }
  return typeof x;
}

/** The bytes as UTF-8 text, without copying them first. */
function utf8(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes)
    ? bytes.toString('utf8')
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** Like `tryParseWindow`, but throws the ValidationError. */
export function parseWindow(input: Uint8Array | string | unknown, options?: ParseWindowOptions) {
  const r = tryParseWindow(input, options);
  if (!r.ok) throw r.error;
  return r.value;
}
