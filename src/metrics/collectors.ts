import type { Admin } from 'kafkajs';
import type { Registry } from 'prom-client';
import { withTimeout } from '../util/timeout.js';
import { COLLECTOR_ERRORS, KAFKA_CONSUMER_LAG, QUEUE_JOBS, counterIn, gaugeIn } from './catalog.js';

/**
 * Metrics read from Redis and Kafka when Prometheus scrapes, instead of being counted in-process:
 * BullMQ queue depth per state and Kafka consumer lag per partition. A collection never throws (a
 * failed scrape would hide every other metric); failures count in `seqae_collector_errors_total` and
 * the affected series are dropped until the source answers again, so stale numbers never look live.
 * (An error counted during a scrape shows from the next scrape: prom-client renders metrics concurrently.)
 */

/** The BullMQ job states reported by `seqae_queue_jobs`. `prioritized` jobs are not in `waiting`. */
export const QUEUE_STATES = [
  'waiting',
  'prioritized',
  'active',
  'delayed',
  'failed',
  'completed',
] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** What the queue-depth collector needs of a BullMQ `Queue` (a `Queue` satisfies it). */
export interface JobCountsSource {
  readonly name: string;
  getJobCounts(...types: QueueState[]): Promise<Record<string, number>>;
}

export interface QueueDepthOptions {
  /** Per-queue time limit for `getJobCounts` during a scrape, in ms. Default 2000. */
  timeoutMs?: number;
}

export interface CollectorHandle {
  /** Removes the collector's metric from the registry. */
  close(): void;
}

/** Registers `seqae_queue_jobs{queue,state}`, read with `Queue.getJobCounts` on every scrape. */
export function registerQueueDepthCollector(
  registry: Registry,
  queues: readonly JobCountsSource[],
  options: QueueDepthOptions = {},
): CollectorHandle {
  const timeoutMs = options.timeoutMs ?? 2000;
  const errors = counterIn(registry, COLLECTOR_ERRORS);
  gaugeIn(registry, QUEUE_JOBS, async function collect() {
    const results = await Promise.allSettled(
      queues.map((q) => withTimeout(q.getJobCounts(...QUEUE_STATES), timeoutMs, q.name)),
    );
    this.reset();
    results.forEach((result, i) => {
      const queue = queues[i].name;
      if (result.status === 'rejected') {
        errors.inc({ collector: 'queue' });
        return;
      }
      for (const state of QUEUE_STATES) this.set({ queue, state }, result.value[state] ?? 0);
    });
  });
  return { close: () => registry.removeSingleMetric(QUEUE_JOBS.name) };
}

/** A consumer group and the topics whose lag to report for it. */
export interface LagTarget {
  groupId: string;
  topics: readonly string[];
}

export interface KafkaLagOptions {
  /** Reuse a result this long, in ms, so that frequent scrapes cost Kafka nothing. Default 5000. */
  cacheMs?: number;
  /** Time limit of one refresh (all groups and topics), in ms. Default 3000. */
  timeoutMs?: number;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

export interface KafkaLagCollector extends CollectorHandle {
  /** Reads the offsets now (ignores the cache); resolves with what the gauge will report. */
  refresh(): Promise<Map<string, PartitionLag[]>>;
}

/**
 * Lag per partition from a group's committed offsets and the topic's offsets. A partition the group
 * never committed counts everything still retained (`high - low`): a consumer that has not started
 * is behind by the whole log, which is what "lag growing" alerts must see.
 */
export function consumerLag(
  topic: string,
  committed: ReadonlyArray<{ partition: number; offset: string }>,
  ends: ReadonlyArray<{ partition: number; high: string; low: string }>,
): PartitionLag[] {
  const byPartition = new Map(committed.map((p) => [p.partition, Number(p.offset)]));
  return ends
    .map(({ partition, high, low }) => {
      const end = Number(high);
      const offset = byPartition.get(partition) ?? -1;
      const lag = offset < 0 ? end - Number(low) : end - offset;
      return { topic, partition, lag: Math.max(0, lag) };
    })
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Registers `seqae_kafka_consumer_lag{group,topic,partition}` from the kafkajs admin client
 * (`fetchOffsets` for the group against `fetchTopicOffsets`). The admin connects lazily and is the
 * caller's to close.
 */
export function registerKafkaLagCollector(
  registry: Registry,
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets'>,
  targets: readonly LagTarget[],
  options: KafkaLagOptions = {},
): KafkaLagCollector {
  const cacheMs = options.cacheMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 3000;
  const errors = counterIn(registry, COLLECTOR_ERRORS);
  let cached: { at: number; lag: Map<string, PartitionLag[]> } | undefined;
  let inFlight: Promise<Map<string, PartitionLag[]>> | undefined;

  const read = async (): Promise<Map<string, PartitionLag[]>> => {
    const lag = new Map<string, PartitionLag[]>();
    for (const { groupId, topics } of targets) {
      const [committed, ends] = await Promise.all([
        admin.fetchOffsets({ groupId, topics: [...topics] }),
        Promise.all(topics.map((t) => admin.fetchTopicOffsets(t))),
      ]);
      lag.set(
        groupId,
        topics.flatMap((topic, i) =>
          consumerLag(topic, committed.find((c) => c.topic === topic)?.partitions ?? [], ends[i]),
        ),
      );
    }
    return lag;
  };

  // One refresh at a time, shared by concurrent scrapes; a refresh that outlives its time limit still
  // fills the cache when it ends.
  const refresh = (): Promise<Map<string, PartitionLag[]>> => {
    inFlight ??= read()
      .then((lag) => {
        cached = { at: Date.now(), lag };
        return lag;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return withTimeout(inFlight, timeoutMs, 'kafka lag');
  };

  gaugeIn(registry, KAFKA_CONSUMER_LAG, async function collect() {
    let lag = cached && Date.now() - cached.at < cacheMs ? cached.lag : undefined;
    if (!lag) {
      try {
        lag = await refresh();
      } catch {
        errors.inc({ collector: 'kafka_lag' });
        cached = undefined;
      }
    }
    this.reset();
    for (const [group, partitions] of lag ?? []) {
      for (const p of partitions) {
        this.set({ group, topic: p.topic, partition: String(p.partition) }, p.lag);
      }
    }
  });

  return {
    refresh,
    close: () => registry.removeSingleMetric(KAFKA_CONSUMER_LAG.name),
  };
}
