import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { deadLetter } from '../../contracts/dead-letter.js';
import { tryParseReading } from '../../contracts/reading.js';
import type { ReadingSource, SourceBatch, SourceItem, SourcePartition } from './types.js';

export interface KafkaReadingSourceOptions {
  kafka: Kafka;
  /** The readings topic (`seqae.readings`). */
  topic: string;
  /** Consumer group; instances of one group share the topic's partitions. */
  groupId: string;
  /** Where a group with no committed offset starts. Default true: the earliest reading kept. */
  fromBeginning?: boolean;
  /** Stream id for messages with neither a `streamId` nor a key. Default none (rejected). */
  streamId?: string;
  /** Largest message accepted, in bytes; larger ones go to the DLQ as `oversized` (config.producer). */
  maxMessageBytes: number;
  /** Stop after this long without a message (batch jobs, tests). Default: never. */
  idleExitMs?: number;
  /** Consumer session timeout, ms. Default 30000. */
  sessionTimeout?: number;
}

interface Queued {
  batch: SourceBatch;
  taken: () => void;
}

/**
 * Readings from a Kafka topic (one JSON reading per message, key = stream id): seqae as a stream
 * processor. Offsets are never committed automatically: the pipeline commits a partition's offset
 * only after every window made from the messages before it was acknowledged by the sinks (and the
 * windowing state saved with it), so a crash re-reads rather than loses.
 *
 * kafkajs pushes batches; the pipeline pulls. A batch waits here (heartbeating) until the pipeline
 * takes it, which is the backpressure: a slow sink slows the fetches.
 */
export class KafkaReadingSource implements ReadingSource {
  readonly kind = 'kafka' as const;
  readonly description: string;
  private readonly consumer: Consumer;
  private readonly queue: Queued[] = [];
  private wake?: () => void;
  private closed = false;
  private started = false;
  private failure?: unknown;
  private lastActivity = Date.now();

  constructor(private readonly o: KafkaReadingSourceOptions) {
    this.description = `kafka:${o.topic}`;
    this.consumer = o.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeout ?? 30_000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.fail(e.payload.error);
    });
  }

  onAssign(listener: () => void): void {
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => listener());
  }

  private fail(e: unknown) {
    this.failure ??= e;
    this.wake?.();
  }

  private async start() {
    this.started = true;
    await this.consumer.connect();
    await this.consumer.subscribe({
      topic: this.o.topic,
      fromBeginning: this.o.fromBeginning ?? true,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
        if (batch.messages.length === 0 || !isRunning() || isStale()) return;
        const partition: SourcePartition = {
          key: `${batch.topic}/${batch.partition}`,
          topic: batch.topic,
          partition: batch.partition,
          nextOffset: (BigInt(batch.lastOffset()) + 1n).toString(),
        };
        const items = batch.messages.map((m) => this.item(batch.topic, batch.partition, m));
        await new Promise<void>((resolve) => {
          // keep the group membership alive while the pipeline is busy
          const beat = setInterval(() => void heartbeat().catch(() => {}), 3000);
          const taken = () => {
            clearInterval(beat);
            resolve();
          };
          this.queue.push({ batch: { items, partition }, taken });
          this.lastActivity = Date.now();
          this.wake?.();
        });
        if (this.closed) throw new Error('source closed'); // nothing of this batch resolves
      },
    });
  }

  private item(topic: string, partition: number, m: KafkaMessage): SourceItem {
    const source = `kafka:${topic}/${partition}@${m.offset}`;
    const key = m.key?.toString('utf8') || undefined;
    const original = m.value ?? Buffer.alloc(0);
    if (m.value === null) {
      const rejection = { code: 'schema', message: 'message has no value' };
      return { offset: m.offset, bad: deadLetter(rejection, source, { original, streamId: key }) };
    }
    const r = tryParseReading(m.value, {
      streamId: key ?? this.o.streamId,
      maxBytes: this.o.maxMessageBytes,
    });
    if (r.ok) return { offset: m.offset, reading: r.value };
    return { offset: m.offset, bad: deadLetter(r.error, source, { original, streamId: key }) };
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    if (!this.started) await this.start();
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (this.failure) throw this.failure;
        if (signal.aborted || this.closed) return;
        const next = this.queue.shift();
        if (next) {
          next.taken();
          this.lastActivity = Date.now();
          yield next.batch;
          continue;
        }
        const idle = this.o.idleExitMs;
        if (idle !== undefined && Date.now() - this.lastActivity >= idle) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          const t =
            idle === undefined ? 1000 : Math.max(10, idle - (Date.now() - this.lastActivity));
          setTimeout(resolve, t);
        });
        this.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async commit(p: SourcePartition): Promise<void> {
    await this.consumer.commitOffsets([
      { topic: p.topic, partition: p.partition, offset: p.nextOffset },
    ]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) q.taken();
    this.wake?.();
    await this.consumer.disconnect();
  }
}
