import { createHash } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import { z } from 'zod';
import { ValidationError } from '../errors/index.js';
import { resolveModelConfig } from '../model/config.js';
import type { ModelConfigInput, TrainingSummary, Variant } from '../model/index.js';
import type { AnomalyOutput, outputPayloads } from './outputs.js';
import {
  hostileKey,
  windowId,
  streamIdSchema,
  tryParseWindow,
  windowLimits,
  type ParseResult,
  type Window,
} from './window.js';

/**
 * The job contracts of seqae's two BullMQ queues, for whoever adds jobs (producers, stream workers)
 * and whoever processes them (infer and train workers).
 *
 * `seqae-infer`, version 2 (version 1 had no bulk job and returned every payload), two job names:
 * - `window`: one window. Data: the window (window.ts). Id: `streamId@seq`. Result (InferJobResult):
 *   the window's anomaly output, the same object as its message on `seqae.anomalies`; with
 *   SEQAE_INFER_RESULT=full, or when the worker does not publish (SEQAE_INFER_PUBLISH=false), the
 *   window's payload for each output topic (version 1's result, always).
 * - `windows`: many windows, of one stream or many. Data: InferBulkJobData. Id: `bulk@<hash of the
 *   windows' identities>`. Result: InferBulkJobResult, one entry per window. A bad window is that
 *   window's loss only: it is dead-lettered with its reason and listed, the others are scored.
 *
 * `seqae-train`: one job per model version. Data: TrainJobData. Id: `train@<model>@v<version>`.
 * Progress: TrainProgress after every epoch. Result: TrainJobResult.
 */

/** The job names (types) of the two queues; a job of any other name fails at once as `unknown_job`. */
export const INFER_JOB_NAME = 'window';
export const INFER_BULK_JOB_NAME = 'windows';
export const TRAIN_JOB_NAME = 'train';

/**
 * The window's BullMQ jobId: `streamId@seq`. BullMQ 6 refuses custom ids containing ':' (unless they
 * have exactly three ':'-separated parts, its repeatable-job format), so the identity's ':' becomes
 * '@'. Stream ids contain no ':', and `seq` is the last '@'-separated part, so the mapping is one to one.
 */
export function windowJobId(w: Pick<Window, 'streamId' | 'seq'>): string {
  return `${w.streamId}@${w.seq}`;
}

/**
 * The `seqae-infer` job of a window. Completed jobs are kept an hour (a resent window whose job is
 * still kept is not added again), failed ones a week; three attempts, with backoff from 1 s.
 */
export function inferJob(w: Window) {
  return { name: INFER_JOB_NAME, data: w, opts: { jobId: windowJobId(w), ...inferJobOptions } };
}

const inferJobOptions = {
  removeOnComplete: { age: 3600, count: 100_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 100_000 },
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
} satisfies JobsOptions;

/** What a window job returns: its anomaly output, or (full) its payload for each output topic. */
export type InferJobResult = AnomalyOutput | ReturnType<typeof outputPayloads>;

/** Most windows in one bulk job. */
export const INFER_BULK_MAX = 10_000;

/** The payload of a `windows` job: windows of one stream or many, each as a `window` job's data. */
export interface InferBulkJobData {
  windows: Window[];
}

/**
 * The id of the bulk job of these windows: a hash of their identities, so that the same windows sent
 * again in the same job are not added twice (as a window job's id does for one window).
 */
export function bulkJobId(windows: readonly Pick<Window, 'streamId' | 'seq'>[]): string {
  const h = createHash('sha256');
  for (const w of windows) h.update(windowId(w)).update('\n');
  return `bulk@${h.digest('hex').slice(0, 32)}`;
}

/** The `seqae-infer` bulk job of these windows: the options of a window job. */
export function inferBulkJob(windows: Window[]) {
  return {
    name: INFER_BULK_JOB_NAME,
    data: { windows } satisfies InferBulkJobData,
    opts: { jobId: bulkJobId(windows), ...inferJobOptions },
  };
}

/** What a bulk job returns: an entry per window of its data, in the same order. */
export interface InferBulkJobResult {
  windows: (
    | { ok: true; result: InferJobResult }
    /** Dead-lettered (seqae.dlq) with this reason, a WindowRejection or `shape_mismatch`. */
    | { ok: false; reason: string; detail: string }
    /** Its model had no version yet: handed to a `window` job of its own (its id), retried there. */
    | { ok: false; reason: 'no_model'; job: string }
  )[];
}

/** A bulk job's data checked: its valid windows with their index, its bad items with the reason. */
export interface ParsedBulkJob {
  windows: { index: number; window: Window }[];
  rejected: { index: number; item: unknown; error: ValidationError }[];
}

const bulkEnvelope = z.strictObject({ windows: z.array(z.unknown()).min(1).max(INFER_BULK_MAX) });

/**
 * Checks a `windows` job's data: the envelope as a whole (a bad one is the whole job's failure, with
 * the reason), then each window on its own within `maxWindowValues`. Never throws.
 */
export function parseBulkJob(data: unknown, maxWindowValues: number): ParseResult<ParsedBulkJob> {
  const hostile = typeof data === 'object' && data !== null ? hostileKey(data) : undefined;
  if (hostile)
    return {
      ok: false,
      error: new ValidationError(`forbidden key ${JSON.stringify(hostile)}`, 'schema'),
    };
  const parsed = bulkEnvelope.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'data';
    return { ok: false, error: new ValidationError(`${where}: ${issue?.message}`, 'schema') };
  }
  const limits = windowLimits(maxWindowValues);
  const value: ParsedBulkJob = { windows: [], rejected: [] };
  for (const [index, item] of parsed.data.windows.entries()) {
    const r = tryParseWindow(item, limits);
    if (r.ok) value.windows.push({ index, window: r.value });
    else value.rejected.push({ index, item, error: r.error });
  }
  return { ok: true, value };
}

/** The payload of a `seqae-train` job. */
export interface TrainJobData {
  modelId: string;
  /** Why: the first model after warm-up, a periodic retraining, or an explicit request. */
  reason: 'warmup' | 'retrain' | 'request';
  /** Overrides of the worker's model settings (variant, units, epochs, …). */
  model?: ModelConfigInput;
  /** Explicit training windows; by default the model's recent windows in the registry's Redis. */
  windows?: Window[];
  /** The stream whose windows a producer's request carries. */
  streamId?: string;
}

/** Where a training started: from scratch, or from the weights of a model version (warm start). */
export type TrainingStart =
  { from: 'scratch' } | { from: 'warm'; modelId: string; version: number };

const trainJobSchema = z.strictObject({
  modelId: z.string().regex(/^[^\s:]{1,1000}$/, 'modelId: 1-1000 characters, no whitespace or ":"'),
  reason: z.enum(['warmup', 'retrain', 'request']),
  model: z.record(z.string(), z.unknown()).optional(),
  windows: z.array(z.unknown()).max(1_000_000).optional(),
  streamId: streamIdSchema.optional(),
});

function badJob(code: string, message: string): ParseResult<TrainJobData> {
  return { ok: false, error: new ValidationError(message, code) };
}

/**
 * Checks a `seqae-train` job as it arrives, whoever added it: its name, its data (the model overrides
 * resolved, every explicit window parsed within `maxWindowValues`). Never throws.
 */
export function parseTrainJob(
  name: string,
  data: unknown,
  maxWindowValues: number,
): ParseResult<TrainJobData> {
  if (name !== TRAIN_JOB_NAME)
    return badJob('unknown_job', `"${name}" is not a job of the training queue`);
  for (const o of [data, (data as { model?: unknown } | null)?.model]) {
    const hostile = typeof o === 'object' && o !== null ? hostileKey(o) : undefined;
    if (hostile) return badJob('schema', `forbidden key ${JSON.stringify(hostile)}`);
  }
  const parsed = trainJobSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return badJob('schema', `${issue?.path.join('.') || 'data'}: ${issue?.message}`);
  }
  const { windows: raw, ...rest } = parsed.data;
  try {
    resolveModelConfig(rest.model as ModelConfigInput);
  } catch (err) {
    return { ok: false, error: err as ValidationError };
  }
  if (raw === undefined) return { ok: true, value: rest as TrainJobData };
  const limits = windowLimits(maxWindowValues);
  const windows: Window[] = [];
  for (const [i, w] of raw.entries()) {
    const r = tryParseWindow(w, limits);
    if (!r.ok) return badJob(r.error.code, `windows[${i}]: ${r.error.message}`);
    windows.push(r.value);
  }
  return { ok: true, value: { ...(rest as TrainJobData), windows } };
}

export interface TrainJobResult {
  modelId: string;
  version: number;
  variant: Variant;
  samples: number;
  summary: TrainingSummary;
  streams: string[];
  start: TrainingStart;
}

/** Progress reported on the job after every epoch. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  loss: number;
  reconstruction?: number;
  prediction?: number;
}

/** The training job of a model's version `version`. */
export function trainJobId(modelId: string, version: number): string {
  return `train@${modelId}@v${version}`;
}

const trainJobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} satisfies JobsOptions;

const RETRY_FAILED_AFTER_MS = 60_000;

/**
 * Enqueues the training of the model's next version and returns its job id. The id names the
 * version, so however many workers and producers ask at once, each version is trained by one job:
 * when that job exists already this adds nothing (and a job that used up its attempts is tried again,
 * but not more often than once a minute). A warm-up request always names version 1: it was decided
 * when the model had no version, and one that v1's training published meanwhile must not make it a
 * second training (v2) of the same first windows.
 */
export async function addTrainJob(
  queue: Queue<TrainJobData, TrainJobResult>,
  registry: { latestVersion(modelId: string): Promise<number | undefined> },
  data: TrainJobData,
): Promise<string> {
  const next =
    data.reason === 'warmup' ? 1 : ((await registry.latestVersion(data.modelId)) ?? 0) + 1;
  const jobId = trainJobId(data.modelId, next);
  const existing = await queue.getJob(jobId);
  if (existing) {
    const failedFor = Date.now() - (existing.finishedOn ?? Date.now());
    if ((await existing.isFailed()) && failedFor > RETRY_FAILED_AFTER_MS) await existing.retry();
  } else {
    await queue.add(TRAIN_JOB_NAME, data, { jobId, ...trainJobOptions });
  }
  return jobId;
}
