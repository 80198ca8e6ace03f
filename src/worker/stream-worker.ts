import { EventEmitter } from 'node:events';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { SeqaeConfig } from '../config/index.js';
import type { WorkerMetrics } from '../metrics/index.js';
import type { ModelRegistry, ModelUpdated } from '../model-registry/index.js';
import { tryParseWindow, windowLimits, type Window } from '../contracts/window.js';
import { deadLetter, type DeadLetter } from '../contracts/dead-letter.js';
import type { ModelLifecycle } from '../training/lifecycle.js';
import type { OutputPublisher } from '../scoring/publisher.js';
import { ScoreBatcher } from '../scoring/score-batcher.js';
import type { WindowScorer } from '../scoring/window-scorer.js';
import type { WindowStore } from '../training/window-store.js';

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
  /** The consumer joined (or rejoined) its group and was given its partitions. */
  joined: [];
  /** The consumer crashed and a fresh one starts after `delayMs`. */
  restarting: [{ attempt: number; delayMs: number; reason: string }];
  /** The consumer cannot go on: the process should exit non-zero. */
  fatal: [Error];
  error: [Error];
}

/** How often models with pending windows are looked at, in case a notice was missed. */
const DRAIN_INTERVAL_MS = 2000;
const DRAIN_LEASE_MS = 60_000;
/** Consumer restarts in a row (no batch handled in between) before the worker gives up. */
const MAX_RESTARTS = 5;
const RESTART_MAX_DELAY_MS = 30_000;

/**
 * The Kafka side of a worker: a consumer-group member on the windows topic. Per partition batch it
 * scores windows of models that exist, holds the others in Redis until their first version, sends
 * bad messages to the DLQ, and commits offsets only once every output is acknowledged (at least
 * once; outputs carry the window identity for de-duplication).
 */
export class StreamWorker extends EventEmitter<StreamWorkerEvents> {
  private consumer: Consumer;
  private timer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  /** Why the consumer is not consuming, while it is not; undefined once it is a group member. */
  private down?: string = 'not started';
  /** Restarts since the last batch handled in full. */
  private restarts = 0;
  private readonly draining = new Set<string>();
  /** Slices of partitions consumed at once share model calls and output sends. */
  private readonly batcher: ScoreBatcher;
  private stopped = false;
  private readonly onUpdated = (n: ModelUpdated) => void this.drain(n.modelId);

  constructor(private readonly deps: StreamWorkerDeps) {
    super();
    this.batcher = new ScoreBatcher(deps.scorer, deps.publisher, {
      chunk: deps.config.worker.batchMax,
      publish: true,
    });
    this.consumer = this.createConsumer();
  }

  private createConsumer(): Consumer {
    const w = this.deps.config.worker;
    const consumer = this.deps.kafka.consumer({
      groupId: w.groupId,
      maxWaitTimeInMs: w.batchWaitMs,
      sessionTimeout: w.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(w.sessionTimeoutMs / 3)),
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.down = undefined;
      this.emit('joined');
    });
    consumer.on(consumer.events.CRASH, ({ payload }) =>
      this.crashed(payload.error, payload.restart),
    );
    return consumer;
  }

  async start(): Promise<void> {
    this.deps.modelRegistry.on('updated', this.onUpdated);
    await this.run();
    this.timer = setInterval(() => void this.drainAll(), DRAIN_INTERVAL_MS);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.deps.config.topics.windows, fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.deps.config.worker.partitionsConcurrently,
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /**
   * kafkajs restarts its consumer after a retriable error by itself, and gives up on any other: then
   * this worker starts a fresh consumer, after a backoff, so that one bad moment never leaves the
   * process idle as if healthy. Until it is back in its group, `health()` says why it is down; after
   * `MAX_RESTARTS` restarts with no batch handled in between it reports `fatal`.
   */
  private crashed(error: Error, restarting: boolean): void {
    this.down = `consumer crashed: ${error.message}`;
    this.emit('error', error);
    if (restarting || this.stopped) return;
    if (++this.restarts > MAX_RESTARTS) {
      this.emit(
        'fatal',
        new Error(`stream consumer crashed ${MAX_RESTARTS} times: ${error.message}`),
      );
      return;
    }
    const delay = Math.min(RESTART_MAX_DELAY_MS, 1000 * 2 ** (this.restarts - 1));
    this.emit('restarting', { attempt: this.restarts, delayMs: delay, reason: error.message });
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      const old = this.consumer;
      this.consumer = this.createConsumer();
      void old
        .disconnect()
        .catch(() => {})
        .then(() => this.run())
        .catch((err: Error) => this.crashed(err, false));
    }, delay);
  }

  /** Whether the consumer is a member of its group and consuming; why not, when it is not. */
  health(): { ok: boolean; reason?: string } {
    return this.down === undefined ? { ok: true } : { ok: false, reason: this.down };
  }

  /** Stops fetching, lets the batch in flight finish and commit, and leaves the group. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.restartTimer);
    this.deps.modelRegistry.off('updated', this.onUpdated);
    await this.consumer.stop();
    await this.consumer.disconnect();
  }

  /**
   * A fetch can hand over tens of thousands of messages (gzip packs windows densely): they are taken
   * in slices of `batchMax`, each scored, published, acknowledged and committed before the next, so
   * that one fetch never becomes one oversized request nor holds its offsets for minutes.
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    const size = this.deps.config.worker.batchMax;
    for (let i = 0; i < batch.messages.length; i += size) {
      if (!isRunning() || isStale()) return; // rebalanced or stopping: the rest is fetched again
      await this.handleSlice(payload, batch.messages.slice(i, i + size));
    }
    this.restarts = 0;
  }

  private async handleSlice(
    { batch, heartbeat, resolveOffset, isRunning, isStale }: EachBatchPayload,
    messages: EachBatchPayload['batch']['messages'],
  ): Promise<void> {
    const { config, lifecycle, publisher, metrics } = this.deps;
    const letters: DeadLetter[] = [];
    const byModel = new Map<string, Window[]>();
    const limits = windowLimits(config.maxWindowValues);
    for (const m of messages) {
      const parsed = tryParseWindow(m.value ?? '', limits);
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
    metrics?.windowsConsumed.inc({ source: 'kafka' }, messages.length - letters.length);

    // Every model of the slice at once: one round of the batcher, one send for all their outputs.
    // A model that still holds windows (its first version came, its drain has not ended) holds these
    // too, behind them: a stream's windows are scored in order, or its anomaly state would learn the
    // future before the past.
    const source = `kafka:${batch.topic}/${batch.partition}`;
    const scoredModels: string[] = [];
    const queued = await this.deps.store.withPending([...byModel.keys()]);
    const recorded = await Promise.all(
      [...byModel].map(async ([modelId, windows]) => {
        if (queued.has(modelId)) {
          const hasModel = (await this.deps.modelRegistry.latestVersion(modelId)) !== undefined;
          if (hasModel) scoredModels.push(modelId); // drained below, once this slice is committed
          return lifecycle.record(modelId, windows, { hasModel, hold: true });
        }
        const result = await this.batcher.score(modelId, windows);
        const rejected = (result?.rejected ?? []).map((r) => deadLetter(r.error, source, r.window));
        if (result) scoredModels.push(modelId);
        const scored = result !== undefined;
        const held = await lifecycle.record(modelId, windows, { hasModel: scored, hold: !scored });
        return [...rejected, ...held];
      }),
    );
    for (const l of recorded) letters.push(...l);
    await heartbeat();
    await publisher.deadLetter(letters);

    // Every output and dead letter of the slice is acknowledged: now the offsets may move.
    const last = messages.at(-1)!.offset;
    resolveOffset(last);
    if (isRunning() && !isStale()) {
      await this.consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) },
      ]);
    }
    await heartbeat();
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
      // Every few seconds for every model in warm-up: no reading (and parsing) of its held windows
      // until it has a version to score them with.
      if ((await this.deps.modelRegistry.latestVersion(modelId)) === undefined) return 0;
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
