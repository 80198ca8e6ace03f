import type { Topics } from '../config/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import { outputMessages, type OutputEncoding, type WindowOutputs } from '../contracts/outputs.js';
import { dlqKafkaMessage, type DeadLetter } from '../contracts/dead-letter.js';
import type { Output } from '../transport/output.js';
import type { FeedbackStore } from './feedback-store.js';

/**
 * Sends outputs and dead letters through the worker's Kafka output (idempotent, acks from all
 * replicas, KAFKA_COMPRESSION, requests cut to the broker's limits) and resolves only once Kafka
 * has acknowledged them, which is when offsets may be committed.
 */
export class OutputPublisher {
  constructor(
    private readonly out: Output,
    private readonly topics: Topics,
    /** Most bytes of a dead letter's original input kept in its DLQ message. */
    private readonly dlqOriginalMaxBytes: number,
    private readonly metrics?: WorkerMetrics,
    /** SEQAE_OUTPUT_ENCODING. */
    private readonly encoding: OutputEncoding = 'f32b64',
    /** Where the alerts sent are recorded, for operators' feedback on them. */
    private readonly alerts?: Pick<FeedbackStore, 'recordAlerts'>,
  ) {}

  async publish(outputs: readonly WindowOutputs[]): Promise<void> {
    if (outputs.length === 0) return;
    const batches = outputMessages(this.topics, outputs, this.encoding);
    // Recorded alongside the send: an operator may answer an alert as soon as it is out.
    await Promise.all([
      this.out.send(batches.map(({ topic, messages }) => ({ topic, messages }))),
      this.alerts?.recordAlerts(outputs),
    ]);
    const now = Date.now();
    for (const b of batches)
      this.metrics?.outputsPublished.inc({ topic: b.name }, b.messages.length);
    for (const o of outputs) this.metrics?.observeEndToEnd(o.window.end, now);
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const max = this.dlqOriginalMaxBytes;
    await this.out.send([
      { topic: this.topics.dlq, messages: letters.map((l) => dlqKafkaMessage(l, max)) },
    ]);
    for (const l of letters) this.metrics?.dlqMessages.inc({ reason: l.reason });
  }
}
