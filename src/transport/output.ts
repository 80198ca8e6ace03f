import type { Kafka, TopicMessages } from 'kafkajs';
import type { SeqaeConfig } from '../config/index.js';
import { KafkaOutput } from './kafka-output.js';
import { PlatformaticOutput } from './platformatic-output.js';

/**
 * What seqae produces its records through: windows, outputs, dead letters. Records are written in
 * kafkajs' shape (key, value, headers as strings or buffers) whichever client sends them.
 */
export interface Output {
  /** Connects (and logs in): a refused login or an unreachable broker fails here, at start. */
  connect(): Promise<void>;
  /** Sends `topicMessages`, resolving once every message is acknowledged by all in-sync replicas. */
  send(topicMessages: TopicMessages[]): Promise<void>;
  /** Waits for sends in progress, then disconnects. Idempotent: several sinks may share it. */
  close(): Promise<void>;
}

/** The Kafka client that produces seqae's records (KAFKA_PRODUCER_CLIENT). */
export type ProducerClient = 'kafkajs' | 'platformatic';

export interface CreateOutputOptions {
  /** The client id of a platformatic producer; default KAFKA_CLIENT_ID (kafkajs' is `kafka`'s). */
  clientId?: string;
  /** A send not acknowledged within this many ms fails. Default 120000. */
  sendTimeoutMs?: number;
}

/**
 * The output that KAFKA_PRODUCER_CLIENT names, with KAFKA_COMPRESSION and KAFKA_MAX_REQUEST_BYTES:
 * kafkajs' producer on `kafka` (the default), or @platformatic/kafka's from the same settings.
 */
export function createOutput(
  config: Pick<SeqaeConfig, 'kafka'>,
  kafka: Kafka,
  options: CreateOutputOptions = {},
): Output {
  const { compression, maxRequestBytes, producerClient } = config.kafka;
  const common = { compression, maxRequestBytes, sendTimeoutMs: options.sendTimeoutMs };
  return producerClient === 'platformatic'
    ? new PlatformaticOutput(config, { ...common, clientId: options.clientId })
    : new KafkaOutput(kafka, common);
}
