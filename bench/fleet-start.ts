/**
 * Fleet start-up: a new fleet of `streams` streams, no model yet, a worker process with the train
 * and stream roles (its default training pool); the time from the producer's start until every
 * stream has its first scored window, with SEQAE_WARM_START=false and then true, the same settings
 * otherwise; and the final training and held-out losses of the models each way.
 */
import { Queue } from 'bullmq';
import type { TrainJobData, TrainJobResult } from '../src/contracts/jobs.js';
import { ModelRegistry, type ModelMeta } from '../src/model-registry/index.js';
import { createRedis } from '../src/transport/redis.js';
import { FleetUnderTest } from './fleet-under-test.js';
import type { Report } from './report.js';
import type { RunScope } from './run-scope.js';

/** Small models, so that 50 cold trainings fit the run; the warm start's share as the defaults'. */
const MODEL = {
  SEQAE_UNITS: '16',
  SEQAE_EPOCHS: '50',
  SEQAE_WARM_START_EPOCHS: '10',
  SEQAE_WARMUP_WINDOWS: '64',
};
/** Windows per stream: warm-up and a few more. */
const PER_STREAM = 80;

export async function fleetStart(scope: RunScope, report: Report, streams: number) {
  const losses: Record<string, { loss: number; validation: number }> = {};
  for (const warm of [false, true]) {
    const way = warm ? 'warm' : 'cold';
    const fleet = await FleetUnderTest.start(scope, {
      ...MODEL,
      SEQAE_ROLES: 'train,stream',
      SEQAE_WARM_START: String(warm),
    });
    try {
      const run = await fleet.produce({
        prefix: 'sensor-',
        streams,
        windows: streams * PER_STREAM,
        until: () => fleet.streams.size >= streams,
        timeoutMs: 600_000,
      });
      report.figure(`fleet.${streams}streams.${way}`, run.ms / 1000, 's');
      const metas = await modelMetas(fleet, streams);
      // Warm: the models that did start warm (the first ones of the fleet had no donor yet).
      const compared = metas.filter(
        (m) => (m.start?.from ?? 'scratch') === (warm ? 'warm' : 'scratch'),
      );
      const mean = (pick: (m: ModelMeta) => number | undefined) =>
        compared.reduce((s, m) => s + (pick(m) ?? NaN), 0) / compared.length;
      losses[way] = {
        loss: mean((m) => m.summary?.final.loss),
        validation: mean((m) => m.summary?.validation?.loss),
      };
      report.note(
        `fleet ${way}: ${compared.length} of ${metas.length} models ${warm ? 'warm-started' : 'from scratch'}, mean epochs ${mean((m) => m.summary?.epochs).toFixed(1)}`,
      );
      report.note(`fleet ${way} jobs: ${await jobTimes(fleet, run.t0)}`);
      report.figure(`fleet.${way}.loss`, losses[way].loss, 'loss');
      report.figure(`fleet.${way}.validation_loss`, losses[way].validation, 'loss');
    } finally {
      await fleet.stop();
    }
  }
  return losses;
}

async function modelMetas(fleet: FleetUnderTest, streams: number): Promise<ModelMeta[]> {
  const redis = createRedis(fleet.config, { name: 'seqae-bench' });
  const registry = new ModelRegistry(redis, { prefix: fleet.config.redis.keyPrefix, keep: 1 });
  try {
    const metas = await Promise.all(
      Array.from({ length: streams }, (_, i) => registry.get(`sensor-${i}`)),
    );
    return metas.flatMap((v) => (v ? [v.meta] : []));
  } finally {
    redis.disconnect();
  }
}

/**
 * Where a fleet's time went, from its training jobs' BullMQ times: how many, when the first began
 * (after the producer's start: the training children's start-up), medians of their wait in the
 * queue, their run and the training (epochs) within it.
 */
async function jobTimes(fleet: FleetUnderTest, t0: number): Promise<string> {
  const connection = createRedis(fleet.config, { bullmq: true, name: 'seqae-bench' });
  const queue = new Queue<TrainJobData, TrainJobResult>(fleet.config.queues.train, {
    connection,
    prefix: fleet.config.queues.prefix,
  });
  try {
    const jobs = await queue.getJobs(['completed']);
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const began = Math.min(...jobs.map((j) => j.processedOn ?? Infinity));
    const run = jobs.map((j) => (j.finishedOn ?? NaN) - (j.processedOn ?? NaN));
    const training = jobs.map((j) => j.returnvalue?.summary.durationMs ?? NaN);
    return [
      `${jobs.length} trainings (${jobs.filter((j) => !j.id?.endsWith('@v1')).length} beyond v1)`,
      `first began ${s(began - t0)} after the start`,
      `median wait ${s(median(jobs.map((j) => (j.processedOn ?? NaN) - j.timestamp)))}`,
      `run ${s(median(run))}, of which epochs ${s(median(training))}`,
      `run total ${s(run.reduce((a, b) => a + b, 0))}`,
    ].join(', ');
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
