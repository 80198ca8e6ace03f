import type { Message } from 'kafkajs';
import { z } from 'zod';
import type { FalseAlarm } from '../anomaly/index.js';
import { ValidationError } from '../errors/index.js';
import { hostileKey, streamIdSchema, type ParseResult } from './window.js';

/**
 * The feedback contract, version 1: an operator's (or a tool's) word about one published window, on
 * `seqae.feedback`, key = the stream id. Only `false-alarm` for now: the alert on that window was
 * not an anomaly. The alert's own fields (`reason`, `score`, errors) are optional: a worker fills
 * them from its record of the alerts it published.
 *
 * ```json
 * { "v": 1, "streamId": "pump-7", "seq": 1290, "kind": "false-alarm", "at": 1732795200000 }
 * ```
 */
export const FEEDBACK_VERSION = 1;

const finite = z.number().refine(Number.isFinite, 'a finite number');
const feedbackSchema = z.strictObject({
  v: z.literal(FEEDBACK_VERSION),
  streamId: streamIdSchema,
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  kind: z.literal('false-alarm'),
  reason: z.enum(['reconstruction', 'prediction', 'range', 'spread']).nullable().optional(),
  score: finite.min(0).max(1).optional(),
  reconstructionError: finite.min(0).nullable().optional(),
  predictionError: finite.min(0).nullable().optional(),
  value: finite.optional(),
  excess: finite.optional(),
  at: z.number().int().min(0).optional(),
});

export type Feedback = z.output<typeof feedbackSchema>;
export type FeedbackKind = Feedback['kind'];

/** Feedback messages are a few hundred bytes; anything much larger is not one. */
const MAX_BYTES = 16 * 1024;

/**
 * Decodes and validates a feedback message. Never throws: bad input comes back as a ValidationError
 * whose code (`bad_json`, `schema`, `too_large`) is its dead-letter reason.
 */
export function tryParseFeedback(input: Uint8Array | string): ParseResult<Feedback> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size > MAX_BYTES)
    return fail(`feedback of ${size} bytes (at most ${MAX_BYTES})`, 'too_large');
  let obj: unknown;
  try {
    obj = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch (e) {
    return fail(`not JSON: ${(e as Error).message}`, 'bad_json');
  }
  const hostile = obj && typeof obj === 'object' ? hostileKey(obj) : undefined;
  if (hostile) return fail(`key ${hostile} is not allowed`, 'schema');
  const r = feedbackSchema.safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0];
    return fail(`feedback ${issue?.path.join('.') || '(message)'}: ${issue?.message}`, 'schema');
  }
  return { ok: true, value: r.data };
}

function fail(message: string, code: string): { ok: false; error: ValidationError } {
  return { ok: false, error: new ValidationError(message, code) };
}

/** The Kafka message of a feedback (key = stream id, so a stream's feedback stays in order). */
export function feedbackMessage(f: Feedback): Message {
  return { key: f.streamId, value: JSON.stringify(f) };
}

/** The false alarm a feedback message marks (its kind is the only one there is). */
export function falseAlarmOf(f: Feedback): FalseAlarm {
  const { v: _v, kind: _kind, ...mark } = f;
  return mark;
}
