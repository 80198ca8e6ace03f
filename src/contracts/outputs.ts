import type { IHeaders, Message } from 'kafkajs';
import type { AlertReason } from '../anomaly/index.js';
import type { Topics } from '../config/index.js';
import { windowId, type Window } from './window.js';

/**
 * The output contract, version 1: one message per window on each output topic, keyed by `streamId`
 * (so a stream's outputs stay ordered on one partition), with headers `seqae-id` (`streamId:seq`,
 * the window's identity, for de-duplication), `seqae-model-id` and `seqae-model-version`.
 * Values are in the stream's own units; errors are in the model's normalised units.
 */
export const OUTPUT_VERSION = 1;

interface OutputBase {
  v: typeof OUTPUT_VERSION;
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
  /** The score reached the worker's alert threshold (SEQAE_ALERT_THRESHOLD). */
  alert: boolean;
  reconstructionError: number | null;
  predictionError: number | null;
  scorer: string;
  /** The check behind the score (`reconstruction`, `prediction`, `range`, `spread`), or null. */
  reason: AlertReason | null;
  /** Per-feature shares of the errors, when the worker computes them. */
  featureErrors?: FeatureErrors;
  /**
   * Why a window whose score reached the threshold is no alert: `feedback`, an operator marked a
   * false alarm like it on this stream (`seqae feedback`). Absent otherwise.
   */
  suppressed?: Suppression;
}
export interface AnomalyOutput extends OutputBase, AnomalyFields {}

/** What can make a would-be alert no alert. */
export type Suppression = 'feedback';

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

/** The `seqae.anomalies` payload of one window. */
export function anomalyPayload(o: WindowOutputs, b = base(o)): AnomalyOutput {
  return { ...b, ...anomalyFields(o) };
}

/** A window's anomaly fields, in the payload's order (featureErrors only when computed). */
function anomalyFields(o: WindowOutputs): AnomalyFields {
  return {
    score: o.score,
    alert: o.alert,
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
 * Kafka messages per output topic name for a batch of windows. The same bytes as
 * `JSON.stringify(outputPayloads(o)[name])`, written in one pass: the fields every topic shares are
 * serialised once per window, not once per topic (a worker's hottest loop after the model).
 */
export function outputMessages(
  topics: Topics,
  outputs: readonly WindowOutputs[],
): { topic: string; name: OutputTopicName; messages: Message[] }[] {
  const embeddings: Message[] = [];
  const anomalies: Message[] = [];
  const reconstructions: Message[] = [];
  const predictions: Message[] = [];
  for (const o of outputs) {
    const id = windowId(o.window);
    const headers: IHeaders = {
      [OUTPUT_HEADERS.id]: id,
      [OUTPUT_HEADERS.modelId]: o.modelId,
      [OUTPUT_HEADERS.modelVersion]: String(o.modelVersion),
    };
    const key = o.window.streamId;
    // `{"v":1,…,"modelVersion":3` without its closing brace: each topic appends its own fields.
    const head = JSON.stringify(base(o)).slice(0, -1);
    embeddings.push({ key, headers, value: `${head},"embedding":${JSON.stringify(o.embedding)}}` });
    anomalies.push({
      key,
      headers,
      value: `${head},${JSON.stringify(anomalyFields(o)).slice(1)}`,
    });
    if (o.reconstruction)
      reconstructions.push({
        key,
        headers,
        value: `${head},"reconstruction":${JSON.stringify(o.reconstruction)}}`,
      });
    if (o.prediction)
      predictions.push({
        key,
        headers,
        value: `${head},"prediction":${JSON.stringify(o.prediction)}}`,
      });
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
