import {
  CompressionTypes,
  Partitioners,
  type Kafka,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import { ServiceError } from '../../errors/index.js';
import { raceTimeout } from '../../util/timeout.js';
import { windowMessage, type Window } from '../../contracts/window.js';
import { dlqKafkaMessage, type DeadLetter } from '../../contracts/dead-letter.js';
import type { DeadLetterSink, WindowSink } from './types.js';

export interface KafkaOutputOptions {
  /** 'gzip' (default) or 'none'; kafkajs ships no other codec. */
  compression?: 'gzip' | 'none';
  /** A send not acknowledged within this many ms fails the producer. Default 120000. */
  sendTimeoutMs?: number;
}

/**
 * One idempotent kafkajs producer for all of a process's output topics: `acks: -1` (all in-sync
 * replicas), GZIP, one request in flight (kafkajs keeps per-partition order and its idempotent
 * sequence numbers straight only then), and unlimited internal retries as kafkajs asks of an
 * idempotent producer, bounded from outside by `sendTimeoutMs`. Sends are serialised: each is one
 * `sendBatch` of everything handed over at once.
 */
export class KafkaOutput {
  readonly producer: Producer;
  private chain: Promise<unknown> = Promise.resolve();
  private connected?: Promise<void>;
  private closing?: Promise<void>;
  private readonly compression: CompressionTypes;
  private readonly timeoutMs: number;

  constructor(kafka: Kafka, options: KafkaOutputOptions = {}) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
    });
    this.compression =
      options.compression === 'none' ? CompressionTypes.None : CompressionTypes.GZIP;
    this.timeoutMs = options.sendTimeoutMs ?? 120_000;
  }

  connect(): Promise<void> {
    return (this.connected ??= this.producer.connect());
  }

  send(topicMessages: TopicMessages[]): Promise<void> {
    const run = async () => {
      await this.connect();
      await raceTimeout(
        this.producer.sendBatch({ topicMessages, acks: -1, compression: this.compression }),
        this.timeoutMs,
        () => {
          throw new ServiceError(`kafka: send not acknowledged in ${this.timeoutMs} ms`);
        },
      );
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => {});
    return p;
  }

  /** Waits for sends in progress, then disconnects. Idempotent: the window and DLQ sinks share it. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.chain;
      if (this.connected) await this.producer.disconnect();
    })());
  }
}

const byStream = (a: Window, b: Window) =>
  a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0;

/** Windows onto `seqae.windows`. */
export class KafkaWindowSink implements WindowSink {
  readonly name = 'kafka';
  constructor(
    private readonly out: KafkaOutput,
    private readonly topic: string,
  ) {}

  send(windows: Window[]): Promise<void> {
    if (windows.length === 0) return Promise.resolve();
    // Grouped by stream (a stable sort: each stream keeps its order): consecutive windows of one
    // stream overlap in all but one row, which gzip's 32 KiB window only sees when they are adjacent.
    const grouped = windows.length > 1 ? [...windows].sort(byStream) : windows;
    return this.out.send([{ topic: this.topic, messages: grouped.map(windowMessage) }]);
  }

  close(): Promise<void> {
    return this.out.close();
  }
}

/** Dead letters onto `seqae.dlq`: key = stream id when known, header `seqae-reason`. */
export class KafkaDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly out: KafkaOutput,
    private readonly topic: string,
  ) {}

  send(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    return this.out.send([{ topic: this.topic, messages: letters.map(dlqKafkaMessage) }]);
  }

  close(): Promise<void> {
    return this.out.close();
  }
}
