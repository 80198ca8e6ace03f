import type { IHeaders, Message } from 'kafkajs';
import type { AlertReason } from '../anomaly/index.js';
import type { Topics } from '../config/index.js';
import { ValidationError } from '../errors/index.js';
import { decodeF32, decodeF32Matrix, encodeF32 } from './f32b64.js';
import { windowId, type Window } from './window.js';

/**
 * The output contract: one message per window on each output topic, keyed by `streamId` (so a
 * stream's outputs stay ordered on one partition), with headers `seqae-id` (`streamId:seq`, the
 * window's identity, for de-duplication), `seqae-model-id` and `seqae-model-version`. Values are in
 * the stream's own units; errors are in the model's normalised units.
 *
 * Version 1 is JSON throughout. Version 2 (SEQAE_OUTPUT_ENCODING=f32b64, the default) is the same
 * JSON object on the reconstructions, predictions and embeddings topics, but with the numbers as
 * base64 of little-endian float32 (a matrix also gives its `features`), announced by the header
 * `seqae-encoding: f32b64` and without the model headers (the model is in the value): writing 118
 * numbers as decimal text was most of a worker's cost per window, and kafkajs' per-header buffers
 * much of the rest. The anomalies topic stays version 1 JSON with all three headers.
 * `decodeOutput` reads either (docs/transport.md).
 */
export const OUTPUT_VERSION = 1;
/** The version of compact (f32b64) records on the reconstructions, predictions and embeddings topics. */
export const OUTPUT_VERSION_F32 = 2;

/** How numeric outputs are written (SEQAE_OUTPUT_ENCODING); anomalies are always JSON. */
export type OutputEncoding = 'f32b64' | 'json';

interface OutputBase {
  v: typeof OUTPUT_VERSION | typeof OUTPUT_VERSION_F32;
  id: string;
  streamId: string;
  seq: number;
  end: number;
  modelId: string;
  modelVersion: number;
}

export interface ReconstructionOutput extends OutputBase {
  reconstruction: number[][];
}
export interface PredictionOutput extends OutputBase {
  /** The window shifted forward (`nOut` rows); its last row is the forecast of the next reading. */
  prediction: number[][];
}
export interface EmbeddingOutput extends OutputBase {
  embedding: number[];
}
/** A window's anomaly score and what it rests on: the anomaly output, and part of WindowOutputs. */
export interface AnomalyFields {
  score: number;
  /**
   * The window is worth a page: its alert score (the scoring's `alertScoreOf`, else its score)
   * reached the worker's alert threshold (SEQAE_ALERT_THRESHOLD), and no operator's mark suppressed it.
   */
  alert: boolean;
  /**
   * The alert's own severity, what `alert` compares to SEQAE_ALERT_THRESHOLD: it asks more of range
   * and spread exits than `score` and adds the forecast-error peak check, so an alert's `score` (a
   * ranking for benchmarks, damped for repeats within an episode) can be low while this is high.
   * Absent from scorings that alert on `score` itself.
   */
  alertScore?: number;
  reconstructionError: number | null;
  predictionError: number | null;
  scorer: string;
  /** The check behind the alert (`reconstruction`, `prediction`, `range`, `spread`), or null. */
  reason: AlertReason | null;
  /** Per-feature shares of the errors, when the worker computes them. */
  featureErrors?: FeatureErrors;
  /**
   * Why a window whose checks would have paged is no alert: `feedback`, an operator marked a false
   * alarm like it on this stream (`seqae feedback`); `routine`, its event recurs on a schedule (a
   * daily job's spike, SEQAE_ALERT_RECURRENCES). Absent otherwise.
   */
  suppressed?: Suppression;
}
export interface AnomalyOutput extends OutputBase, AnomalyFields {}

/** What can make a would-be alert no alert. */
export type Suppression = 'feedback' | 'routine';

/** Each feature's contribution to a window's errors (same units as the errors), and the largest. */
export interface FeatureErrors {
  /**
   * Per feature f, the mean over the window's rows of its squared reconstruction error in units of
   * its normalisation scale; `reconstructionError` is the mean of these. Null without a decoder.
   */
  reconstruction: number[] | null;
  /** Per feature, the squared one-step forecast error (scaled); `predictionError` is their mean. */
  prediction: number[] | null;
  /** Index of the feature that contributes most (to the error behind `reason`). */
  top: number;
}

/** Everything produced for one window. */
export interface WindowOutputs extends AnomalyFields {
  window: Window;
  modelId: string;
  modelVersion: number;
  reconstruction?: number[][];
  prediction?: number[][];
  embedding: number[];
}

export type OutputTopicName = 'reconstructions' | 'predictions' | 'embeddings' | 'anomalies';

export const OUTPUT_HEADERS = {
  id: 'seqae-id',
  modelId: 'seqae-model-id',
  modelVersion: 'seqae-model-version',
  /** `f32b64` on version 2 records; absent on JSON ones. */
  encoding: 'seqae-encoding',
} as const;

function base(o: WindowOutputs): OutputBase {
  return {
    v: OUTPUT_VERSION,
    id: windowId(o.window),
    streamId: o.window.streamId,
    seq: o.window.seq,
    end: o.window.end,
    modelId: o.modelId,
    modelVersion: o.modelVersion,
  };
}

/** Characters JSON.stringify escapes in a string (lone surrogates included). */
// eslint-disable-next-line no-control-regex -- the control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(s)` for a string, without its call for the plain strings ids and names are. */
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** `JSON.stringify(n)` for a number. */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? `${n}` : 'null';
}

/**
 * `"id":…,"modelVersion":3`: the fields every topic's record of a window shares, without braces or
 * version (each topic adds its own around them), written by hand: the same text as
 * `JSON.stringify(base(o))` without `v`.
 */
function sharedFields(o: WindowOutputs, id: string): string {
  const w = o.window;
  return (
    `"id":${jsonString(id)},"streamId":${jsonString(w.streamId)},"seq":${jsonNumber(w.seq)}` +
    `,"end":${jsonNumber(w.end)},"modelId":${jsonString(o.modelId)}` +
    `,"modelVersion":${jsonNumber(o.modelVersion)}`
  );
}

/** The `seqae.anomalies` payload of one window. */
export function anomalyPayload(o: WindowOutputs, b = base(o)): AnomalyOutput {
  return { ...b, ...anomalyFields(o) };
}

/** A window's anomaly fields, in the payload's order (featureErrors only when computed). */
function anomalyFields(o: WindowOutputs): AnomalyFields {
  return {
    score: o.score,
    alert: o.alert,
    ...(o.alertScore !== undefined && { alertScore: o.alertScore }),
    reconstructionError: o.reconstructionError,
    predictionError: o.predictionError,
    scorer: o.scorer,
    reason: o.reason,
    ...(o.featureErrors && { featureErrors: o.featureErrors }),
    ...(o.suppressed && { suppressed: o.suppressed }),
  };
}

/** The JSON payload of each topic for one window (a variant without a decoder has no such message). */
export function outputPayloads(o: WindowOutputs): Partial<Record<OutputTopicName, object>> {
  const b = base(o);
  const out: Partial<Record<OutputTopicName, object>> = {
    embeddings: { ...b, embedding: o.embedding } satisfies EmbeddingOutput,
    anomalies: anomalyPayload(o, b),
  };
  if (o.reconstruction)
    out.reconstructions = { ...b, reconstruction: o.reconstruction } satisfies ReconstructionOutput;
  if (o.prediction) out.predictions = { ...b, prediction: o.prediction } satisfies PredictionOutput;
  return out;
}

/**
 * Kafka messages per output topic name for a batch of windows. With `json`, the same bytes as
 * `JSON.stringify(outputPayloads(o)[name])`; with `f32b64` (the default), the reconstructions,
 * predictions and embeddings as version 2 (their numbers as `encodeF32`). Written in one pass: the
 * fields every topic shares are serialised once per window, not once per topic (a worker's hottest
 * loop after the model).
 */
export function outputMessages(
  topics: Topics,
  outputs: readonly WindowOutputs[],
  encoding: OutputEncoding = 'f32b64',
): { topic: string; name: OutputTopicName; messages: Message[] }[] {
  const embeddings: Message[] = [];
  const anomalies: Message[] = [];
  const reconstructions: Message[] = [];
  const predictions: Message[] = [];
  const compact = encoding === 'f32b64';
  const v = compact ? OUTPUT_VERSION_F32 : OUTPUT_VERSION;
  for (const o of outputs) {
    const id = windowId(o.window);
    const headers: IHeaders = {
      [OUTPUT_HEADERS.id]: id,
      [OUTPUT_HEADERS.modelId]: o.modelId,
      [OUTPUT_HEADERS.modelVersion]: String(o.modelVersion),
    };
    // kafkajs encodes every header of every record into buffers of its own: a compact record
    // carries only the identity and the encoding (the model is in its value).
    const numeric = compact
      ? { [OUTPUT_HEADERS.id]: id, [OUTPUT_HEADERS.encoding]: 'f32b64' }
      : headers;
    const key = o.window.streamId;
    const shared = sharedFields(o, id);
    const head = `{"v":${v},${shared}`;
    const matrix = (name: string, m: number[][]) =>
      compact
        ? `${head},"${name}":"${encodeF32(m)}","features":${m[0]?.length ?? 0}}`
        : `${head},"${name}":${JSON.stringify(m)}}`;
    embeddings.push({
      key,
      headers: numeric,
      value: compact
        ? `${head},"embedding":"${encodeF32(o.embedding)}"}`
        : `${head},"embedding":${JSON.stringify(o.embedding)}}`,
    });
    anomalies.push({
      key,
      headers,
      value: `{"v":${OUTPUT_VERSION},${shared},${JSON.stringify(anomalyFields(o)).slice(1)}`,
    });
    if (o.reconstruction)
      reconstructions.push({
        key,
        headers: numeric,
        value: matrix('reconstruction', o.reconstruction),
      });
    if (o.prediction)
      predictions.push({ key, headers: numeric, value: matrix('prediction', o.prediction) });
  }
  const all: [OutputTopicName, Message[]][] = [
    ['embeddings', embeddings],
    ['anomalies', anomalies],
    ['reconstructions', reconstructions],
    ['predictions', predictions],
  ];
  return all
    .filter(([, messages]) => messages.length > 0)
    .map(([name, messages]) => ({ topic: topics[name], name, messages }));
}

/**
 * Any output record's value (either version, any topic) as the version 1 object: a version 2
 * record's base64 field back to numbers (a vector, or `features`-wide rows), `v` as written. Throws
 * a ValidationError on text that is not an output record; readers skip such records.
 */
export function decodeOutput(
  value: Uint8Array | string | null | undefined,
): Record<string, unknown> {
  const text = typeof value === 'string' ? value : Buffer.from(value ?? []).toString('utf8');
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`output record: not JSON: ${(e as Error).message}`, 'bad_json', e);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new ValidationError('output record: not a JSON object', 'schema');
  const r = o as Record<string, unknown>;
  if (r.v !== OUTPUT_VERSION_F32) return r;
  if (typeof r.embedding === 'string') r.embedding = Array.from(decodeF32(r.embedding));
  for (const field of ['reconstruction', 'prediction'])
    if (typeof r[field] === 'string') {
      r[field] = decodeF32Matrix(r[field], Number(r.features));
      delete r.features;
    }
  return r;
}
