import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import type { AnomalyScoring, FalseAlarm, FeedbackMemory } from '../anomaly/index.js';
import type { SeqaeConfig } from '../config/index.js';
import { deadLetter } from '../contracts/dead-letter.js';
import { falseAlarmOf, tryParseFeedback } from '../contracts/feedback.js';
import type { Logger } from '../log/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import type { FeedbackStore } from '../scoring/feedback-store.js';
import type { OutputPublisher } from '../scoring/publisher.js';

export interface FeedbackWorkerDeps {
  config: SeqaeConfig;
  kafka: Kafka;
  redis: Redis;
  store: FeedbackStore;
  memory: FeedbackMemory;
  anomaly: AnomalyScoring;
  publisher: OutputPublisher;
  metrics?: WorkerMetrics;
}

export interface FeedbackWorkerEvents {
  /** A false alarm taken into account; `known`: the worker found the alert it marks. */
  marked: [{ mark: FalseAlarm; known: boolean }];
  error: [Error];
}

/** How long the claim on a bad message's dead letter is kept (every worker reads every message). */
const CLAIM_TTL_S = 7 * 24 * 3600;

/**
 * Every worker reads every feedback message (a consumer group of its own, from the beginning, no
 * offsets committed): each stream's scoring may run on any of them, now or after a rebalance. A
 * false alarm gets the marked alert's detail from the alert record in Redis, is saved in Redis (for
 * workers that start later) and goes into this worker's memory. A bad message goes to the DLQ once,
 * whichever worker claims it first; nothing in a message stops the consumer.
 */
export class FeedbackWorker extends EventEmitter<FeedbackWorkerEvents> {
  private readonly consumer: Consumer;

  constructor(private readonly deps: FeedbackWorkerDeps) {
    super();
    this.consumer = deps.kafka.consumer({
      groupId: `${deps.config.worker.groupId}-feedback-${randomUUID()}`,
      maxWaitTimeInMs: 500,
    });
  }

  /** Loads the saved marks, then follows the topic. */
  async start(): Promise<void> {
    for (const mark of await this.deps.store.loadMarks()) this.apply(mark);
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.deps.config.topics.feedback, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async (payload) => {
        await this.handle(payload).catch((err: Error) => void this.emit('error', err));
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  private apply(mark: FalseAlarm): void {
    this.deps.memory.add(mark);
  }

  private async handle({ topic, partition, message }: EachMessagePayload): Promise<void> {
    const { store, metrics, publisher, redis, config } = this.deps;
    const source = `kafka:${topic}/${partition}@${message.offset}`;
    const parsed = tryParseFeedback(message.value ?? '');
    if (!parsed.ok) {
      metrics?.feedback.inc({ kind: 'invalid' });
      const claim = `${config.redis.keyPrefix}:feedback-dlq:${source}`;
      if ((await redis.set(claim, '1', 'EX', CLAIM_TTL_S, 'NX')) !== 'OK') return;
      await publisher.deadLetter([
        deadLetter(parsed.error, source, {
          original: message.value ?? new Uint8Array(0),
          streamId: message.key?.toString('utf8'),
        }),
      ]);
      return;
    }
    metrics?.feedback.inc({ kind: parsed.value.kind });
    const sent = falseAlarmOf(parsed.value);
    // What the worker published wins over what a sender says of it.
    const recorded = await store.alertOf(sent.streamId, sent.seq);
    const mark: FalseAlarm = {
      ...sent,
      ...recorded,
      at: sent.at ?? Number(message.timestamp),
    };
    await store.saveMark(mark);
    this.apply(mark);
    this.emit('marked', { mark, known: recorded !== undefined });
  }
}

/** A started FeedbackWorker whose events go to `log`. */
export async function startFeedbackWorker(
  deps: FeedbackWorkerDeps,
  log: Logger,
): Promise<FeedbackWorker> {
  const feedback = new FeedbackWorker(deps);
  feedback.on('error', (err) => log.error({ err }, 'feedback'));
  feedback.on('marked', ({ mark, known }) =>
    known
      ? log.info({ mark }, 'false alarm marked')
      : log.warn(
          { mark },
          'false alarm marked on a window with no recorded alert: only what the message says of it counts',
        ),
  );
  await feedback.start();
  return feedback;
}
