import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Producer,
  type MessageToProduce,
  type ProducerOptions,
  type SASLMechanismValue,
} from '@platformatic/kafka';
import type { IHeaders, TopicMessages } from 'kafkajs';
import type { SeqaeConfig } from '../config/index.js';
import { RefusedError, SeqaeError, ServiceError } from '../errors/index.js';
import { raceTimeout } from '../util/timeout.js';
import { splitRequests, type KafkaOutputOptions } from './kafka-output.js';
import type { Output } from './output.js';
import { murmur2, toPositive } from './partitioner.js';
import { refusalOf } from './unreachable.js';

export interface PlatformaticOutputOptions extends KafkaOutputOptions {
  /** Default KAFKA_CLIENT_ID. */
  clientId?: string;
}

type Value = string | Buffer | null | undefined;
type Record_ = MessageToProduce<Value, Value, string, Value | Value[]>;

/** Strings as UTF-8, buffers as they are, as kafkajs writes them. */
function bytes(data?: Value | Value[]): Buffer | undefined {
  if (data === undefined || data === null) return undefined;
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data);
  throw new SeqaeError('kafka: a header of several values needs KAFKA_PRODUCER_CLIENT=kafkajs', {
    code: 'config',
  });
}

const SASL: Record<NonNullable<SeqaeConfig['kafka']['sasl']>['mechanism'], SASLMechanismValue> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/** The connection settings of seqae's kafkajs client (brokers, TLS, SASL), in platformatic's terms. */
export function platformaticConnection(
  config: Pick<SeqaeConfig, 'kafka'>,
  clientId?: string,
): Pick<
  ProducerOptions<Value, Value, string, Value>,
  'clientId' | 'bootstrapBrokers' | 'tls' | 'sasl'
> {
  const { kafka } = config;
  // Absent, not undefined: platformatic validates its options against a schema.
  return {
    clientId: clientId ?? kafka.clientId,
    bootstrapBrokers: kafka.brokers,
    ...(kafka.ssl && { tls: kafka.sslCa ? { ca: [readFileSync(kafka.sslCa, 'utf8')] } : {} }),
    ...(kafka.sasl && {
      sasl: {
        mechanism: SASL[kafka.sasl.mechanism],
        username: kafka.sasl.username,
        password: kafka.sasl.password,
      },
    }),
  };
}

/**
 * The same output as KafkaOutput (an idempotent producer, `acks: -1`, KAFKA_COMPRESSION, one request
 * in flight, sends serialised and cut to the broker's limits, sent again while the broker is out of
 * reach until `sendTimeoutMs`) through @platformatic/kafka's producer. Keyed records go to the
 * partition kafkajs' DefaultPartitioner picks, so switching clients keeps every stream where it was.
 */
export class PlatformaticOutput implements Output {
  readonly producer: Producer<Value, Value, string, Value | Value[]>;
  private chain: Promise<unknown> = Promise.resolve();
  /** The last request's attempts, which may outlive a send that timed out. */
  private attempt: Promise<void> = Promise.resolve();
  private connected?: Promise<void>;
  private closing?: Promise<void>;
  private readonly compression: 'gzip' | 'none';
  private readonly timeoutMs: number;
  private readonly maxRequestBytes: number;
  private keyless = 0;

  constructor(config: Pick<SeqaeConfig, 'kafka'>, options: PlatformaticOutputOptions) {
    this.producer = new Producer<Value, Value, string, Value | Value[]>({
      ...platformaticConnection(config, options.clientId),
      idempotent: true, // implies acks -1 and one request in flight per connection
      // platformatic takes the partition modulo the topic's partition count, as kafkajs does.
      // Keyless records get their partition once per send (records()), so a send tried again puts
      // them where the first attempt did and the broker can drop a copy it already has.
      partitioner: (_message, key) => (key ? toPositive(murmur2(key)) : 0),
      autocreateTopics: true, // as kafkajs' producer does by default
      serializers: { key: bytes, value: bytes, headerKey: bytes, headerValue: bytes },
      // kafkajs' request timeout; a few retries, then sendUntil's own (as with kafkajs' client).
      timeout: 30_000,
      // Above the broker's own produce timeout: a slow acknowledgement comes back as the broker's
      // REQUEST_TIMED_OUT rather than a client timeout, which resets the connection.
      requestTimeout: 40_000,
      retries: 3,
      retryDelay: 250,
    });
    this.compression = options.compression;
    this.timeoutMs = options.sendTimeoutMs ?? 120_000;
    this.maxRequestBytes = options.maxRequestBytes ?? 512 * 1024;
  }

  /** Logs in and gets the producer id, as kafkajs' idempotent producer does on connect. */
  connect(): Promise<void> {
    // Not remembered when it fails: a broker away at the first send must not fail every later one.
    return (this.connected ??= this.producer.initIdempotentProducer({}).then(
      () => undefined,
      (err: unknown) => {
        this.connected = undefined;
        throw err;
      },
    ));
  }

  send(topicMessages: TopicMessages[]): Promise<void> {
    const run = async () => {
      await this.connect();
      for (const request of splitRequests(topicMessages, this.maxRequestBytes)) {
        const deadline = Date.now() + this.timeoutMs;
        const batch = records(request, () => toPositive(this.keyless++));
        const attempt = this.sendUntil(batch, deadline);
        this.attempt = attempt.catch(() => {});
        try {
          await raceTimeout(attempt, this.timeoutMs, () => {
            throw new ServiceError(`kafka: send not acknowledged in ${this.timeoutMs} ms`);
          });
        } catch (err) {
          // Not refused: the broker may have written it. The next send takes a new producer id, so
          // its sequence numbers (platformatic counts them on success only) cannot match this one's
          // and have the broker drop it as a copy.
          if (!(err instanceof RefusedError)) this.connected = undefined;
          throw err;
        }
      }
    };
    const p = this.chain.then(run, run);
    // The next send starts once this one's attempt has ended, not only its wait: one request in
    // flight, as the idempotent producer's sequence numbers ask.
    this.chain = p.then(
      () => this.attempt,
      () => this.attempt,
    );
    return p;
  }

  /**
   * One request, sent again until `deadline` while the failure may pass (the broker out of reach, a
   * leader being elected, too few replicas in sync: what kafkajs retries too), and failed at once
   * when the broker refused it for good (`RefusedError`, not retriable: see isRefusal). A request
   * sent again keeps its sequence numbers (platformatic counts them on success only), so the broker
   * drops a copy it already has.
   */
  private async sendUntil(messages: Record_[], deadline: number): Promise<void> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.producer.send({ messages, acks: -1, compression: this.compression });
        return;
      } catch (err) {
        const refusal = refusalOf(err);
        if (refusal) throw new RefusedError(`kafka: ${refusal}`, err);
        if (Date.now() + delay >= deadline)
          throw new ServiceError(`kafka: send failed until its deadline: ${lastReason(err)}`, err);
        await sleep(delay);
      }
    }
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.chain;
      await this.producer.close();
    })());
  }
}

/** kafkajs' per-topic messages as platformatic's records, each naming its topic and, if keyless, its partition. */
function records(request: TopicMessages[], keylessPartition: () => number): Record_[] {
  const out: Record_[] = [];
  for (const { topic, messages } of request)
    for (const m of messages)
      out.push({
        topic,
        key: m.key,
        value: m.value,
        headers: m.headers as IHeaders as Record<string, Value | Value[]>,
        partition:
          m.partition ?? (m.key === null || m.key === undefined ? keylessPartition() : undefined),
        timestamp: m.timestamp === undefined ? undefined : BigInt(m.timestamp),
      });
  return out;
}

/** The last attempt's reason, at the bottom of platformatic's wrapping, for a log line. */
function lastReason(err: unknown): string {
  let e = err as { message?: string; errors?: unknown[]; cause?: unknown } | undefined;
  let message = String(err);
  while (e) {
    if (typeof e.message === 'string' && e.message) message = e.message;
    e = (Array.isArray(e.errors) && e.errors.length > 0 ? e.errors.at(-1) : e.cause) as typeof e;
  }
  return message;
}
