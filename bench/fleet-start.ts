/**
 * Fleet start-up: a new fleet of `streams` streams, no model yet, a worker process with the train
 * and stream roles (its default training pool); the time from the producer's start until every
 * stream has its first scored window, with SEQAE_WARM_START=false and then true, the same settings
 * otherwise; and the final training and held-out losses of the models each way.
 */
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
