import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors/index.js';
import type { Reading } from './reading.js';
import type { Window } from './window.js';

/**
 * The dead-letter contract, version 1: what goes to `seqae.dlq` when input cannot be used. It carries
 * the reason (a stable code, also the `reason` label of the rejection metrics), a human detail, where
 * the input came from, and the original bytes (base64) so that nothing is lost and it can be replayed.
 *
 * ```json
 * { "v": 1, "reason": "bad_number", "detail": "column value: \"7x3\" is not a number",
 *   "source": "csv:data/speed_7578.csv#L12", "original": "MjAxNS0wOS0wOCAxMjozOTowMCw3eDM=",
 *   "at": 1732795200000 }
 * ```
 *
 * An original longer than the configured limit is cut to it so that the dead letter always fits the
 * broker's message limit; the message then says so: `truncated: true`, the full length in
 * `originalBytes` and the SHA-256 of the full original in `originalSha256`.
 *
 * Kafka: key = the stream id when known (else none), header `seqae-reason` = reason.
 */
export const DLQ_VERSION = 1;

export const dlqSchema = z.strictObject({
  v: z.literal(DLQ_VERSION),
  reason: z.string().min(1).max(100),
  detail: z.string().max(2000),
  source: z.string().max(2000),
  original: z.base64(),
  truncated: z.literal(true).optional(),
  originalBytes: z.number().int().nonnegative().optional(),
  originalSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  at: z.number().int(),
});

export type DlqMessage = z.output<typeof dlqSchema>;

export interface DeadLetter {
  reason: string;
  detail: string;
  /** Where the input came from: `csv:<path>#L<line>`, `kafka:<topic>/<partition>@<offset>`, … */
  source: string;
  original: Uint8Array | string;
  /** Stream the input belonged to, when known: the Kafka key of the DLQ message. */
  streamId?: string;
  /** Epoch ms; default now. */
  at?: number;
}

/**
 * The dead letter of rejected input: the rejection's code is the reason and its message the detail
 * (a ValidationError is such a rejection). A window or a reading is kept as its JSON, under its
 * stream; other input gives its bytes and, when known, its stream.
 */
export function deadLetter(
  rejection: { code: string; message: string },
  source: string,
  input: Window | Reading | { original: Uint8Array | string; streamId?: string },
): DeadLetter {
  const { original, streamId } =
    'original' in input ? input : { original: JSON.stringify(input), streamId: input.streamId };
  return { reason: rejection.code, detail: rejection.message, source, original, streamId };
}

const MAX_DETAIL = 2000;

/**
 * The DLQ message for a dead letter. Long details are cut to 2000 characters, an original longer than
 * `maxOriginalBytes` to that many bytes (see the contract above).
 */
export function dlqMessage(letter: DeadLetter, maxOriginalBytes = Infinity): DlqMessage {
  const original =
    typeof letter.original === 'string'
      ? Buffer.from(letter.original, 'utf8')
      : Buffer.from(letter.original);
  const cut = original.length > maxOriginalBytes;
  return {
    v: DLQ_VERSION,
    reason: letter.reason,
    detail: letter.detail.slice(0, MAX_DETAIL),
    source: letter.source.slice(0, MAX_DETAIL),
    original: (cut ? original.subarray(0, maxOriginalBytes) : original).toString('base64'),
    ...(cut && {
      truncated: true as const,
      originalBytes: original.length,
      originalSha256: createHash('sha256').update(original).digest('hex'),
    }),
    at: letter.at ?? Date.now(),
  };
}

/** The Kafka message of a dead letter: key = its stream id when known, header `seqae-reason`. */
export function dlqKafkaMessage(
  letter: DeadLetter,
  maxOriginalBytes?: number,
): {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
} {
  const m = dlqMessage(letter, maxOriginalBytes);
  return {
    key: letter.streamId ?? null,
    value: encodeDlq(m),
    headers: { 'seqae-reason': m.reason },
  };
}

export function encodeDlq(m: DlqMessage): Buffer {
  return Buffer.from(JSON.stringify(m));
}

/** Decodes a DLQ message; throws ValidationError ('bad_json' or 'schema'). */
export function parseDlq(input: Uint8Array | string): DlqMessage {
  let obj: unknown;
  try {
    obj = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch (e) {
    throw new ValidationError(`not JSON: ${(e as Error).message}`, 'bad_json', e);
  }
  const r = dlqSchema.safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ValidationError(`${issue?.path.join('.')}: ${issue?.message}`, 'schema', r.error);
  }
  return r.data;
}

/** The original bytes of a DLQ message. */
export function dlqOriginal(m: DlqMessage): Buffer {
  return Buffer.from(m.original, 'base64');
}
