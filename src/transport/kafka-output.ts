import {
  CompressionTypes,
  Partitioners,
  type Kafka,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceError } from '../errors/index.js';
import { raceTimeout } from '../util/timeout.js';
import type { Output } from './output.js';
import { isUnreachable } from './unreachable.js';

export interface KafkaOutputOptions {
  /** The records' codec (KAFKA_COMPRESSION): 'none', or 'gzip'. */
  compression: 'gzip' | 'none';
  /** A send not acknowledged within this many ms fails the producer. Default 120000. */
  sendTimeoutMs?: number;
  /**
   * Most bytes (keys, values and headers, before compression) in one produce request. The broker
   * refuses a record batch over its `message.max.bytes` (1 MB by default), and kafkajs puts all of a
   * request's messages for one partition into one batch, so a larger send goes out as several
   * requests. Default 512 KiB.
   */
  maxRequestBytes?: number;
}

const RECORD_OVERHEAD = 64; // a record's lengths, offset and timestamp deltas, generously

function messageBytes(m: Message): number {
  let n = RECORD_OVERHEAD;
  if (m.key) n += Buffer.byteLength(m.key);
  if (m.value) n += Buffer.byteLength(m.value);
  const headers = m.headers;
  // for…in, not Object.entries: no arrays per record (four records a window, on the hot path).
  for (const k in headers) {
    const v = headers[k];
    n += Buffer.byteLength(k) + (typeof v === 'string' || Buffer.isBuffer(v) ? v.length : 0);
  }
  return n;
}

/**
 * Cuts a send into requests of at most `maxBytes` each, every topic's messages kept in order. A
 * message larger than `maxBytes` goes in a request of its own (the broker judges it).
 */
export function splitRequests(send: readonly TopicMessages[], maxBytes: number): TopicMessages[][] {
  const requests: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let size = 0;
  for (const { topic, messages } of send) {
    let part: TopicMessages | undefined;
    for (const m of messages) {
      const n = messageBytes(m);
      if (size > 0 && size + n > maxBytes) {
        requests.push(current);
        current = [];
        size = 0;
        part = undefined;
      }
      if (!part) current.push((part = { topic, messages: [] }));
      part.messages.push(m);
      size += n;
    }
  }
  if (size > 0) requests.push(current);
  return requests;
}

/**
 * One idempotent kafkajs producer for all of a process's output topics: `acks: -1` (all in-sync
 * replicas), KAFKA_COMPRESSION (none by default), one request in flight (kafkajs keeps
 * per-partition order and its idempotent sequence numbers straight only then), and unlimited internal retries as kafkajs asks of an
 * idempotent producer, bounded from outside by `sendTimeoutMs`. Sends are serialised; each is cut
 * into requests that fit the broker's limits.
 */
export class KafkaOutput implements Output {
  readonly producer: Producer;
  private chain: Promise<unknown> = Promise.resolve();
  private connected?: Promise<void>;
  private closing?: Promise<void>;
  private readonly compression: CompressionTypes;
  private readonly timeoutMs: number;
  private readonly maxRequestBytes: number;

  constructor(kafka: Kafka, options: KafkaOutputOptions) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
    });
    this.compression =
      options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    this.timeoutMs = options.sendTimeoutMs ?? 120_000;
    this.maxRequestBytes = options.maxRequestBytes ?? 512 * 1024;
  }

  connect(): Promise<void> {
    return (this.connected ??= this.producer.connect());
  }

  /** Sends `topicMessages`, resolving once every message is acknowledged by all in-sync replicas. */
  send(topicMessages: TopicMessages[]): Promise<void> {
    const run = async () => {
      await this.connect();
      for (const request of splitRequests(topicMessages, this.maxRequestBytes)) {
        const deadline = Date.now() + this.timeoutMs;
        await raceTimeout(this.sendUntil(request, deadline), this.timeoutMs, () => {
          throw new ServiceError(`kafka: send not acknowledged in ${this.timeoutMs} ms`);
        });
      }
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => {});
    return p;
  }

  /**
   * One request, sent again while the broker cannot be reached, until `deadline`. kafkajs gives up
   * reconnecting after its client's few retries (seconds) and fails the send for good, so a broker
   * restarted or briefly away would stop the process; sent again, a request may be written twice,
   * which the window identity on every message de-duplicates.
   */
  private async sendUntil(request: TopicMessages[], deadline: number): Promise<void> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.producer.sendBatch({
          topicMessages: request,
          acks: -1,
          compression: this.compression,
        });
        return;
      } catch (err) {
        if (!isUnreachable(err) || Date.now() + delay >= deadline) throw err;
        await sleep(delay);
      }
    }
  }

  /** Waits for sends in progress, then disconnects. Idempotent: several sinks may share it. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.chain;
      if (this.connected) await this.producer.disconnect();
    })());
  }
}
