import { EventEmitter } from 'node:events';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { SeqaeConfig } from '../config/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import type { ModelRegistry, ModelUpdated } from '../model-registry/index.js';
import { tryParseWindow, type Window } from '../contracts/window.js';
import { deadLetter, type DeadLetter } from '../contracts/dead-letter.js';
import type { ModelLifecycle } from './lifecycle.js';
import type { OutputPublisher } from './publisher.js';
import type { WindowScorer } from './window-scorer.js';
import type { WindowStore } from './window-store.js';

export interface StreamWorkerDeps {
  config: SeqaeConfig;
  kafka: Kafka;
  modelRegistry: ModelRegistry;
  scorer: WindowScorer;
  store: WindowStore;
  lifecycle: ModelLifecycle;
  publisher: OutputPublisher;
  metrics?: WorkerMetrics;
}

export interface StreamWorkerEvents {
  /** Pending windows of a model were scored after its first version arrived. */
  drained: [{ modelId: string; windows: number }];
  error: [Error];
}

/** How often models with pending windows are looked at, in case a notice was missed. */
const DRAIN_INTERVAL_MS = 2000;
const DRAIN_LEASE_MS = 60_000;

/**
 * The Kafka side of a worker: a consumer-group member on the windows topic. Per partition batch it
 * scores windows of models that exist, holds the others in Redis until their first version, sends
 * bad messages to the DLQ, and commits offsets only once every output is acknowledged (at least
 * once; outputs carry the window identity for de-duplication).
 */
export class StreamWorker extends EventEmitter<StreamWorkerEvents> {
  private readonly consumer: Consumer;
  private timer?: NodeJS.Timeout;
  private readonly draining = new Set<string>();
  private stopped = false;
  private readonly onUpdated = (n: ModelUpdated) => void this.drain(n.modelId);

  constructor(private readonly deps: StreamWorkerDeps) {
    super();
    const w = deps.config.worker;
    this.consumer = deps.kafka.consumer({
      groupId: w.groupId,
      maxWaitTimeInMs: w.batchWaitMs,
      sessionTimeout: w.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(w.sessionTimeoutMs / 3)),
    });
  }

  async start(): Promise<void> {
    const { config, modelRegistry } = this.deps;
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: config.topics.windows, fromBeginning: true });
    modelRegistry.on('updated', this.onUpdated);
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.timer = setInterval(() => void this.drainAll(), DRAIN_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops fetching, lets the batch in flight finish and commit, and leaves the group. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.deps.modelRegistry.off('updated', this.onUpdated);
    await this.consumer.stop();
    await this.consumer.disconnect();
  }

  private async handleBatch({
    batch,
    heartbeat,
    resolveOffset,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { config, scorer, lifecycle, publisher, metrics } = this.deps;
    if (batch.messages.length === 0) return;
    const letters: DeadLetter[] = [];
    const byModel = new Map<string, Window[]>();
    for (const m of batch.messages) {
      const parsed = m.value ? tryParseWindow(m.value) : tryParseWindow('');
      if (!parsed.ok) {
        letters.push(
          deadLetter(parsed.error, `kafka:${batch.topic}/${batch.partition}@${m.offset}`, {
            original: m.value ?? new Uint8Array(0),
            streamId: m.key?.toString('utf8'),
          }),
        );
        continue;
      }
      const w = parsed.value;
      const modelId = lifecycle.modelFor(w.streamId);
      let list = byModel.get(modelId);
      if (!list) byModel.set(modelId, (list = []));
      list.push(w);
    }
    metrics?.windowsConsumed.inc({ source: 'kafka' }, batch.messages.length - letters.length);

    const scoredModels: string[] = [];
    for (const [modelId, windows] of byModel) {
      const result = await scorer.score(modelId, windows, config.worker.batchMax);
      if (result) {
        await publisher.publish(result.outputs);
        const source = `kafka:${batch.topic}/${batch.partition}`;
        for (const r of result.rejected) letters.push(deadLetter(r.error, source, r.window));
        scoredModels.push(modelId);
      }
      const scored = result !== undefined;
      letters.push(
        ...(await lifecycle.record(modelId, windows, { hasModel: scored, hold: !scored })),
      );
      await heartbeat();
    }
    await publisher.deadLetter(letters);

    // Every output and dead letter of the batch is acknowledged: now the offsets may move.
    const last = batch.messages.at(-1)!.offset;
    resolveOffset(last);
    if (isRunning() && !isStale()) {
      await this.consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
      ]);
    }
    for (const modelId of scoredModels) void this.drain(modelId);
  }

  private async drainAll(): Promise<void> {
    try {
      const models = await this.deps.store.pendingModels();
      let buffered = 0;
      for (const modelId of models) buffered += await this.deps.store.pendingCount(modelId);
      this.deps.metrics?.windowsBuffered.set(buffered);
      for (const modelId of models) await this.drain(modelId);
    } catch (err) {
      this.emit('error', err as Error);
    }
  }

  /**
   * Scores the windows a model held while it had no version, in order, acknowledging each slice only
   * after its outputs are out. One worker drains a model at a time (a lease in Redis).
   */
  async drain(modelId: string): Promise<number> {
    const { store, scorer, publisher, config } = this.deps;
    if (this.stopped || this.draining.has(modelId)) return 0;
    this.draining.add(modelId);
    let total = 0;
    try {
      if ((await store.pendingCount(modelId)) === 0) return 0;
      const lease = await store.lease(`drain:${modelId}`, DRAIN_LEASE_MS);
      if (!lease) return 0;
      try {
        while (!this.stopped) {
          const { windows, taken } = await store.peekPending(modelId, config.worker.batchMax);
          if (taken === 0) break;
          const result = await scorer.score(modelId, windows, config.worker.batchMax);
          if (!result) break; // no version yet
          await publisher.publish(result.outputs);
          await publisher.deadLetter(
            result.rejected.map((r) => deadLetter(r.error, `pending:${modelId}`, r.window)),
          );
          await store.ackPending(modelId, taken);
          await lease.extend(DRAIN_LEASE_MS);
          total += windows.length;
        }
      } finally {
        await lease.release();
      }
      if (total > 0) this.emit('drained', { modelId, windows: total });
    } catch (err) {
      this.emit('error', err as Error);
    } finally {
      this.draining.delete(modelId);
    }
    return total;
  }
}
