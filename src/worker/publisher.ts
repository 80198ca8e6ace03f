import type { Producer } from 'kafkajs';
import type { Topics } from '../config/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import { outputMessages, type WindowOutputs } from '../contracts/outputs.js';
import { dlqKafkaMessage, type DeadLetter } from '../contracts/dead-letter.js';

/**
 * Sends outputs and dead letters with the worker's idempotent producer (acks from all replicas) and
 * resolves only once Kafka has acknowledged them, which is when offsets may be committed.
 */
export class OutputPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topics: Topics,
    private readonly metrics?: WorkerMetrics,
  ) {}

  async publish(outputs: readonly WindowOutputs[]): Promise<void> {
    if (outputs.length === 0) return;
    const batches = outputMessages(this.topics, outputs);
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: batches.map(({ topic, messages }) => ({ topic, messages })),
    });
    const now = Date.now();
    for (const b of batches)
      this.metrics?.outputsPublished.inc({ topic: b.name }, b.messages.length);
    for (const o of outputs) this.metrics?.observeEndToEnd(o.window.end, now);
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: this.topics.dlq,
      acks: -1,
      messages: letters.map(dlqKafkaMessage),
    });
    for (const l of letters) this.metrics?.dlqMessages.inc({ reason: l.reason });
  }
}
