import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { SeqaeConfig } from '../config/index.js';
import { ServiceError } from '../errors/index.js';
import { decodeOutput } from '../contracts/outputs.js';
import { ModelRegistry } from '../model-registry/index.js';
import { createKafka, loginAccepted } from '../transport/kafka.js';
import { createRedis } from '../transport/redis.js';
import {
  lossCurve,
  reportIncidents,
  streamReport,
  type ReportData,
  type VersionSummary,
  type WindowEntry,
} from './data.js';
import { labelsFor, type Labels } from './labels.js';

export interface CollectOptions {
  /** Stream ids to include (with `streamPrefix`: these and the prefix's). */
  streams?: readonly string[];
  streamPrefix?: string;
  labels?: Labels;
  labelsSource?: string;
  /** Newest windows kept per stream. Default 2000. */
  maxWindows?: number;
  title?: string;
  /** Longest time without a message before the reading gives up, ms. Default 60 s. */
  stallMs?: number;
  /**
   * Epoch ms: read only records appended from then on (each partition's first offset at or after it),
   * so that a report of a recent run does not read a long-lived topic's whole history.
   */
  since?: number;
}

const TOPICS = ['windows', 'reconstructions', 'predictions', 'embeddings', 'anomalies'] as const;
type TopicName = (typeof TOPICS)[number];

/** Which streams a report covers: the named ones and the prefix's, or all when neither is given. */
export function streamFilter(options: Pick<CollectOptions, 'streams' | 'streamPrefix'>) {
  const named = new Set(options.streams ?? []);
  const prefix = options.streamPrefix;
  if (named.size === 0 && prefix === undefined) return () => true;
  return (id: string) => named.has(id) || (prefix !== undefined && id.startsWith(prefix));
}

/**
 * A stream's window entries, keeping only about the newest `keep`: once twice that many are held the
 * older ones are dropped, and anything older than the oldest kept is ignored from then on.
 */
class StreamEntries {
  readonly entries = new Map<number, WindowEntry>();
  seen = 0;
  private floor = -Infinity;
  constructor(private readonly keep: number) {}

  at(seq: number): WindowEntry | undefined {
    if (seq < this.floor) return undefined;
    let e = this.entries.get(seq);
    if (!e) {
      this.entries.set(seq, (e = { seq }));
      this.seen++;
      if (this.entries.size > 2 * this.keep + 64) this.trim();
    }
    return e;
  }

  private trim(): void {
    const seqs = [...this.entries.keys()].sort((a, b) => b - a);
    this.floor = seqs[this.keep - 1]!;
    for (const s of seqs.slice(this.keep)) this.entries.delete(s);
  }
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isRow = (x: unknown): x is number[] => Array.isArray(x) && x.every(isNumber);
const lastRow = (x: unknown): number[] | undefined =>
  Array.isArray(x) && isRow(x.at(-1)) ? (x.at(-1) as number[]) : undefined;

/** Fills `e` from one message of topic `name`; false when the message is not of that shape. */
function absorb(name: TopicName, v: Record<string, unknown>, e: WindowEntry): boolean {
  if (isNumber(v.end)) e.end = v.end;
  if (typeof v.modelId === 'string') e.modelId = v.modelId;
  if (isNumber(v.modelVersion)) e.version = v.modelVersion;
  switch (name) {
    case 'windows':
      if (isNumber(v.step)) e.step = v.step;
      e.last = lastRow(v.values);
      return e.last !== undefined;
    case 'reconstructions':
      e.reconstruction = lastRow(v.reconstruction);
      return e.reconstruction !== undefined;
    case 'predictions':
      e.prediction = lastRow(v.prediction);
      return e.prediction !== undefined;
    case 'embeddings':
      if (!isRow(v.embedding)) return false;
      e.embedding = v.embedding;
      return true;
    case 'anomalies':
      if (!isNumber(v.score)) return false;
      e.score = v.score;
      e.alert = v.alert === true;
      if (isNumber(v.alertScore)) e.alertScore = v.alertScore;
      // Any short name: a newer worker's checks may have more than this build knows.
      e.reason = typeof v.reason === 'string' && v.reason.length <= 40 ? v.reason : null;
      if (isRecord(v.featureErrors) && Number.isInteger(v.featureErrors.top))
        e.top = v.featureErrors.top as number;
      return true;
  }
}

/**
 * Where reading starts and stops in every partition of `topics` that has records to read: from the
 * earliest offset (or the first at or after `since`) to the high-water mark now.
 */
async function readRanges(
  admin: Admin,
  topics: string[],
  since: number | undefined,
): Promise<{ marks: Map<string, bigint>; starts: Map<string, bigint> }> {
  const marks = new Map<string, bigint>();
  const starts = new Map<string, bigint>();
  for (const topic of topics) {
    const from =
      since === undefined
        ? undefined
        : new Map(
            (await admin.fetchTopicOffsetsByTimestamp(topic, since)).map((p) => [
              p.partition,
              BigInt(p.offset),
            ]),
          );
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const high = BigInt(p.high);
      // A timestamp after every record answers -1: nothing to read there.
      const fromOffset = from?.get(p.partition);
      const start = fromOffset === undefined ? BigInt(p.low) : fromOffset < 0n ? high : fromOffset;
      if (high > start) {
        marks.set(`${topic}:${p.partition}`, high);
        if (from) starts.set(`${topic}:${p.partition}`, start);
      }
    }
  }
  return { marks, starts };
}

/**
 * Reads what a run left on Kafka (the windows topic and the four output topics, from the earliest
 * offset to the high-water marks found at the start) through a throwaway consumer group that never
 * commits and is deleted afterwards, and the streams' model versions from the registry.
 */
export async function collectReport(
  config: SeqaeConfig,
  options: CollectOptions = {},
): Promise<ReportData> {
  const maxWindows = options.maxWindows ?? 2000;
  const { streams, skipped } = await readStreams(config, options, maxWindows);

  const modelIds = new Set<string>();
  for (const s of streams.values())
    for (const e of s.entries.values()) if (e.modelId) modelIds.add(e.modelId);
  const versions = await readVersions(config, [...modelIds]);

  // sensor-2 before sensor-10
  const ids = [...streams.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const reports = ids.map((id) => {
    const s = streams.get(id)!;
    const report = streamReport(id, s.entries.values(), {
      maxWindows,
      labels: labelsFor(options.labels, id),
    });
    report.windowsSeen = s.seen;
    report.losses = report.modelIds.flatMap((m) => versions.get(m) ?? []).map(lossCurve);
    return report;
  });
  const topicPrefix = config.topics.windows.slice(0, -'windows'.length);
  return {
    title: options.title ?? `seqae report: ${topicPrefix}`,
    generatedAt: Date.now(),
    source: {
      topicPrefix,
      brokers: config.kafka.brokers.join(','),
      keyPrefix: config.redis.keyPrefix,
      ...(options.labelsSource ? { labels: options.labelsSource } : {}),
    },
    maxWindows,
    skipped,
    streams: reports.filter((r) => r.t.length > 0),
    incidents: reportIncidents(reports, config.incidentGap),
  };
}

/**
 * A connection to Redis, or one line saying why there is none: a one-off command gives up on the
 * first failed connection instead of retrying for minutes.
 */
async function openRedis(config: SeqaeConfig): Promise<Redis> {
  const redis = createRedis(config, { name: 'seqae-report', lazyConnect: true });
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err)); // the first error says most (ECONNREFUSED…)
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    const url = new URL(config.redis.url);
    const reason = (cause ?? (err as Error)).message.split('\n')[0];
    throw new ServiceError(`Redis at ${url.protocol}//${url.host}${url.pathname}: ${reason}`, err);
  }
}

/** Every kept version's training summary of each model, oldest first. */
async function readVersions(
  config: SeqaeConfig,
  modelIds: string[],
): Promise<Map<string, VersionSummary[]>> {
  const out = new Map<string, VersionSummary[]>();
  if (modelIds.length === 0) return out;
  const redis = await openRedis(config);
  try {
    const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 1 });
    for (const id of modelIds) {
      const list: VersionSummary[] = [];
      for (const v of await registry.versions(id)) {
        const meta = await registry.meta(id, v);
        if (meta)
          list.push({ modelId: id, version: v, createdAt: meta.createdAt, summary: meta.summary });
      }
      out.set(id, list);
    }
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
  return out;
}

/** The run's windows and outputs on Kafka, by stream and seq, and how many records were skipped. */
async function readStreams(
  config: SeqaeConfig,
  options: CollectOptions,
  maxWindows: number,
): Promise<{ streams: Map<string, StreamEntries>; skipped: number }> {
  const wanted = streamFilter(options);
  const streams = new Map<string, StreamEntries>();
  let skipped = 0;
  const handle = (name: TopicName, m: KafkaMessage) => {
    const key = m.key?.toString('utf8');
    if (key && !wanted(key)) return;
    let v: Record<string, unknown>;
    try {
      v = decodeOutput(m.value);
    } catch {
      skipped++;
      return;
    }
    const id = v?.streamId;
    if (typeof id !== 'string' || !Number.isInteger(v.seq)) return void skipped++;
    if (!wanted(id)) return;
    let s = streams.get(id);
    if (!s) streams.set(id, (s = new StreamEntries(maxWindows + 1)));
    const e = s.at(v.seq as number);
    if (e && !absorb(name, v, e)) skipped++;
  };

  // A one-off command: a broker that does not answer fails it in seconds, not after a minute.
  const kafka = createKafka(config, { clientId: `${config.kafka.clientId}-report`, retries: 3 });
  const admin = kafka.admin();
  await loginAccepted(admin.connect(), config);
  const groupId = `${config.topics.windows}-report-${randomUUID()}`;
  try {
    const existing = new Set(await admin.listTopics());
    const byTopic = new Map<string, TopicName>(
      TOPICS.filter((n) => existing.has(config.topics[n])).map((n) => [config.topics[n], n]),
    );
    const ranges = await readRanges(admin, [...byTopic.keys()], options.since);
    if (ranges.marks.size > 0) {
      const consumer = kafka.consumer({
        groupId,
        maxWaitTimeInMs: 200,
        allowAutoTopicCreation: false,
      });
      await consumer.connect();
      try {
        await readToMarks(
          consumer,
          [...byTopic.keys()],
          ranges,
          options.stallMs ?? 60_000,
          (topic, m) => handle(byTopic.get(topic)!, m),
        );
      } finally {
        await consumer.disconnect();
        await admin.deleteGroups([groupId]).catch(() => undefined);
      }
    }
  } finally {
    await admin.disconnect();
  }
  return { streams, skipped };
}

/**
 * Reads `topics`: every `topic:partition` of `ranges` from its start to its high-water mark, handing each
 * record to `handle`; rejects when no record comes for `stallMs`.
 */
function readToMarks(
  consumer: Consumer,
  topics: string[],
  { marks, starts }: Awaited<ReturnType<typeof readRanges>>,
  stallMs: number,
  handle: (topic: string, m: KafkaMessage) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let progress = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - progress < stallMs) return;
      clearInterval(watchdog);
      const left = [...marks.keys()].join(', ');
      reject(
        new ServiceError(`Kafka: no messages for ${stallMs / 1000} s; still to read: ${left}`),
      );
    }, 1000);
    const eachBatch = async ({ batch, pause }: EachBatchPayload) => {
      const at = `${batch.topic}:${batch.partition}`;
      const high = marks.get(at);
      if (high === undefined) return void pause();
      progress = Date.now();
      const start = starts.get(at) ?? 0n; // records before a seek took effect are skipped
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        if (offset >= start && offset < high) handle(batch.topic, m);
      }
      if (BigInt(batch.lastOffset()) + 1n >= high) {
        marks.delete(at);
        pause();
        if (marks.size === 0) {
          clearInterval(watchdog);
          resolve();
        }
      }
    };
    consumer
      .subscribe({ topics, fromBeginning: true })
      .then(async () => {
        await consumer.run({ autoCommit: false, eachBatch });
        // Seeks are taken once the consumer runs; until its partitions are assigned, kafkajs
        // holds them and applies them then.
        for (const [at, offset] of starts) {
          const cut = at.lastIndexOf(':');
          consumer.seek({
            topic: at.slice(0, cut),
            partition: Number(at.slice(cut + 1)),
            offset: offset.toString(),
          });
        }
      })
      .catch((err: Error) => {
        clearInterval(watchdog);
        reject(err);
      });
  });
}
