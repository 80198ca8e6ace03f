import { EventEmitter } from 'node:events';
import type { Logger } from '../log/index.js';
import { deadLetter, type DeadLetter } from '../contracts/dead-letter.js';
import type { Window } from '../contracts/window.js';
import type { Reading } from '../contracts/reading.js';
import { Windower, type DropReason, type WindowerOptions } from '../windows/windower.js';
import type { CheckpointStore } from './checkpoints.js';
import type { ProducerMetrics } from './metrics.js';
import { Pacer } from './pacer.js';
import { PartitionCheckpoints } from './partition-checkpoints.js';
import { SendQueue } from './send-queue.js';
import type { DeadLetterSink, WindowSink } from './sinks/types.js';
import type { TrainingSink } from './sinks/training.js';
import type { ReadingSource, SourceBatch } from './sources/types.js';
import { PipelineStatistics, type PipelineStats } from './statistics.js';

export type { PipelineStats };

export interface PipelineOptions {
  /** How readings become windows (nIn, stride, reorder bound, gap policy…). */
  windows: WindowerOptions;
  /** Where windows go; every window goes to every sink. */
  sinks: WindowSink[];
  /** Where bad input goes (`seqae.dlq`). Without one, bad input is only counted and logged. */
  deadLetters?: DeadLetterSink;
  metrics?: ProducerMetrics;
  log?: Logger;
  /** Replay speed: absent or 0 = as fast as possible, 1 = real time, 10 = ten times real time. */
  speed?: number;
  /** Windows per send (config.producer.batch). */
  batchSize: number;
  /** Longest a window waits for its batch to fill before it is sent anyway, ms (LINGER_MS). */
  lingerMs: number;
  /** Windows sent and not yet acknowledged before reading pauses (config.producer.inFlight). */
  maxInFlight: number;
  /** Windowing state of partitioned sources (Kafka), saved with each offset commit. */
  checkpoints?: CheckpointStore;
  /** Least time between checkpoints (state save + offset commit), ms (CHECKPOINT_INTERVAL_MS). */
  checkpointIntervalMs: number;
  /** Explicit training requests: sent every window once the sinks acknowledged it. */
  training?: TrainingSink;
  /** Dropped readings also sent to the DLQ (they are always counted). Default late and features. */
  deadLetterDrops?: DropReason[];
  /**
   * Most numbers in a window (config.maxWindowValues): a reading with more features than such a
   * window can hold goes to the DLQ as `too_large`. Default: no limit.
   */
  maxWindowValues?: number;
}

export interface PipelineEvents {
  /** A send was acknowledged. */
  sent: [sink: string, windows: Window[]];
}

/**
 * The producer: pulls readings from a source and wires the parts that turn them into sends. The
 * windower cuts windows; the pacer replays at a speed; the send queue batches windows and bad input,
 * orders the sends and pauses reading while too many await acknowledgement; the partition checkpoints
 * resume a partitioned source and commit its offsets, with the windowing state that goes with them,
 * only after everything read before them was acknowledged; the statistics count. A failed send stops
 * the pipeline with the error and commits nothing after it.
 */
export class ProducerPipeline extends EventEmitter<PipelineEvents> {
  private readonly windower: Windower;
  private readonly pacer?: Pacer;
  private readonly queue: SendQueue;
  private readonly checkpoints: PartitionCheckpoints;
  private readonly statistics: PipelineStatistics;
  private readonly dropsToDlq: Set<DropReason>;
  private source?: ReadingSource;

  constructor(private readonly o: PipelineOptions) {
    super();
    if (!((o.speed ?? 0) >= 0)) throw new RangeError('speed: expected ≥ 0');
    this.pacer = o.speed ? new Pacer(o.speed) : undefined;
    this.dropsToDlq = new Set(o.deadLetterDrops ?? ['late', 'features']);
    this.windower = new Windower(o.windows);
    this.statistics = new PipelineStatistics(
      o.sinks.map((s) => s.name),
      o.metrics,
    );
    this.queue = new SendQueue({
      sinks: o.sinks,
      followers: o.training ? [o.training] : [],
      deadLetters: o.deadLetters,
      batchSize: o.batchSize,
      maxInFlight: o.maxInFlight,
      lingerMs: o.lingerMs,
      statistics: this.statistics,
      onSent: (sink, windows) => this.emit('sent', sink, windows),
    });
    this.checkpoints = new PartitionCheckpoints({
      windower: this.windower,
      store: o.checkpoints,
      intervalMs: o.checkpointIntervalMs,
      log: o.log,
    });
  }

  stats(): PipelineStats {
    return this.statistics.stats({
      source: this.source?.description ?? '',
      windower: this.windower.counters,
      inFlight: this.queue.inFlight,
      trainingRequests: this.o.training?.requested ?? 0,
    });
  }

  /**
   * Runs until the source ends or `signal` aborts, then sends what is pending, checkpoints, and
   * resolves with the final stats. A finite source's reorder buffers are flushed at its end; a
   * partitioned source's are kept in its checkpoint instead.
   */
  async run(source: ReadingSource, signal: AbortSignal = new AbortController().signal) {
    this.source = source;
    this.statistics.start();
    const partitioned = source.commit !== undefined;
    source.onAssign?.(() => this.checkpoints.reassigned());
    this.queue.startLinger();
    try {
      for await (const batch of source.batches(signal)) {
        this.queue.throwIfFailed();
        await this.process(batch, signal);
        if (partitioned && this.checkpoints.due) this.checkpoint();
        if (signal.aborted) break;
      }
      this.queue.throwIfFailed();
      if (!partitioned) for (const w of this.windower.flush()) this.queue.add(w);
      const training = this.o.training;
      if (training) this.queue.after(() => training.end()); // streams short of a full request
      if (partitioned) this.checkpoint();
      await this.queue.drain();
      return this.stats();
    } finally {
      this.queue.stopLinger();
    }
  }

  private async process(batch: SourceBatch, signal: AbortSignal) {
    const { items, streams } = batch.partition
      ? await this.checkpoints.accept(batch.partition, batch.items)
      : { items: batch.items, streams: undefined };
    for (const item of items) {
      if (item.bad) {
        this.reject(item.bad);
        continue;
      }
      const r = item.reading;
      if (r.values.length * this.o.windows.nIn > (this.o.maxWindowValues ?? Infinity)) {
        this.reject(this.tooLarge(r));
        continue;
      }
      if (this.pacer) await this.pacer.wait(r.ts, signal, () => this.queue.dispatch());
      // Stopped while pacing: the rest of a file's batch is left unread. A partitioned source's
      // batch is finished instead (its offsets and checkpoint cover the whole batch).
      if (signal.aborted && !streams) break;
      this.statistics.reading();
      streams?.add(r.streamId);
      const { windows, dropped } = this.windower.push(r);
      if (dropped) this.dropped(r, dropped);
      for (const w of windows) this.queue.add(w);
      if (this.queue.batchFull) await this.queue.sendBatch();
    }
    this.queue.sendDeadLettersIfFull();
  }

  private reject(bad: DeadLetter) {
    this.statistics.rejection(bad.reason);
    this.o.log?.debug({ reason: bad.reason, source: bad.source, detail: bad.detail }, 'rejected');
    this.queue.addDeadLetter(bad);
  }

  private tooLarge(r: Reading): DeadLetter {
    const { nIn } = this.o.windows;
    const detail = `${r.values.length} features × ${nIn} readings a window > ${this.o.maxWindowValues} numbers`;
    return deadLetter({ code: 'too_large', message: detail }, this.source?.description ?? '', {
      original: JSON.stringify(r),
      streamId: r.streamId,
    });
  }

  private dropped(r: Reading, reason: DropReason) {
    this.statistics.rejection(reason);
    if (!this.dropsToDlq.has(reason)) return;
    const message = `${reason} reading of ${r.streamId} at ${new Date(r.ts).toISOString()}`;
    this.queue.addDeadLetter(
      deadLetter({ code: reason, message }, this.source?.description ?? '', r),
    );
  }

  /** Takes a checkpoint of every partition that moved; it is committed after what came before. */
  private checkpoint() {
    for (const commit of this.checkpoints.take(this.source!)) this.queue.after(commit);
    this.queue.dispatch();
  }
}
